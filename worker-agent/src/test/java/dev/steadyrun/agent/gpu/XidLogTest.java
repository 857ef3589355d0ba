package dev.steadyrun.agent.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class XidLogTest {

    @Test
    void parsesDriverXidLinesOnly() {
        assertThat(XidLog.parse("3,1234,5678,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=4242, name=python, GPU has "
                + "fallen off the bus.")).contains(new XidLog.Event("0000:3b:00", 79));
        assertThat(XidLog.parse("[  12.3] NVRM: Xid (PCI:0000:18:00): 13, Graphics Exception")).isPresent();
        assertThat(XidLog.parse("6,1,2,-;NVRM: loading NVIDIA UNIX x86_64 Kernel Module")).isEmpty();
    }

    @Test
    void busIdsOfNvidiaSmiAndTheKernelMatch() {
        assertThat(XidLog.normalize("00000000:3B:00.0")).isEqualTo(XidLog.normalize("0000:3b:00"));
        assertThat(XidLog.normalize("00000001:3B:00.0")).isNotEqualTo(XidLog.normalize("0000:3b:00"));
    }

    @Test
    void kmsgTimestampsAreMicrosecondsSinceBoot() {
        assertThat(XidLog.timestampMicros("3,1234,5678,-;text")).isEqualTo(5678);
        assertThat(XidLog.timestampMicros("plain text")).isNegative();
    }
}
