package dev.steadyrun.agent.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;

class NvidiaSmiProbeTest {

    @Test
    void parsesQueryModeCsvIncludingUnsupportedFields() {
        List<GpuHealth> health = NvidiaSmiProbe.parseHealth("""
                0, 41, 1024, 81559, 97, 0, 0, 0, 0
                1, 83, 80000, 81559, 100, 12, 2, 1, 3
                2, 38, 5, 16384, 0, [N/A], [N/A], [N/A], [N/A]
                """);
        assertThat(health).hasSize(3);
        assertThat(health.get(1)).isEqualTo(new GpuHealth(1, 83, 80000, 81559, 100, 12, 2, 4, List.of(), 0));
        assertThat(health.get(2).eccUncorrectable()).isZero();

        assertThat(NvidiaSmiProbe.parseInventory("0, GPU-5a1c, NVIDIA H100 80GB HBM3, 81559\n"))
                .containsExactly(new GpuInfo(0, "GPU-5a1c", "NVIDIA H100 80GB HBM3", 81559));
    }

    @Test
    void aMachineWithoutNvidiaSmiIsCpuOnly() {
        assertThat(NvidiaSmiProbe.detect("/nonexistent/nvidia-smi", Path.of("/nonexistent/kmsg"),
                Duration.ofSeconds(10))).isSameAs(GpuProbe.CPU_ONLY);
    }

    /**
     * A wedged GPU makes nvidia-smi hang (here: it waits for a child that never ends). The call is cut at its
     * deadline, nvidia-smi and its child are killed, and the reading comes back empty, however long they would
     * have held the output open.
     */
    @Test
    void aHangingNvidiaSmiIsKilledWithItsChildrenAtTheDeadline(@TempDir Path dir) throws Exception {
        FakeNvidiaSmi smi = new FakeNvidiaSmi(dir);
        try {
            GpuProbe probe = NvidiaSmiProbe.detect(smi.executable().toString(), dir.resolve("no-kmsg"),
                    Duration.ofMillis(500));
            assertThat(probe.readings()).hasSize(1);
            Files.createFile(smi.hang());
            List<GpuHealth> readings = assertTimeoutPreemptively(Duration.ofSeconds(30), probe::readings);
            assertThat(readings).as("a timed-out reading").isEmpty();
            for (long pid : smi.pids()) {
                Await.until("process " + pid + " of the hung nvidia-smi is gone", Duration.ofSeconds(10),
                        () -> ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true));
            }
        } finally {
            smi.killAll();
        }
    }

    /** Runs the probe's real command line against a stand-in executable that checks the arguments it gets. */
    @Test
    void queriesNvidiaSmiWithTheDocumentedArgumentsAndFollowsXids(@TempDir Path dir) throws Exception {
        Path smi = dir.resolve("nvidia-smi");
        Files.writeString(smi, """
                #!/bin/sh
                case "$1" in
                  --query-gpu=%s) echo "0, GPU-a, Fake H100, 81559"; echo "1, GPU-b, Fake H100, 81559" ;;
                  --query-gpu=%s) echo "0, 50, 1, 81559, 10, 0, 0, 0, 0"; echo "1, 51, 1, 81559, 10, 0, 5, 0, 0" ;;
                  --query-gpu=%s) echo "0, 00000000:18:00.0"; echo "1, 00000000:3B:00.0" ;;
                  *) echo "unexpected $1" >&2; exit 9 ;;
                esac
                [ "$2" = "--format=csv,noheader,nounits" ] || exit 8
                """.formatted(NvidiaSmiProbe.INVENTORY_FIELDS, NvidiaSmiProbe.HEALTH_FIELDS,
                NvidiaSmiProbe.BUS_FIELDS));
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwx------"));
        // a kernel log in /dev/kmsg's record format: one XID from before the agent started, one after
        Path kmsg = dir.resolve("kmsg");
        Files.writeString(kmsg, """
                3,100,5,-;NVRM: Xid (PCI:0000:3b:00): 48, pid=1, DBE (double bit error)
                6,101,999999999999,-;usb 1-1: new device
                3,102,999999999999,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.
                """);

        GpuProbe probe = NvidiaSmiProbe.detect(smi.toString(), kmsg, Duration.ofSeconds(10));
        assertThat(probe).isInstanceOf(NvidiaSmiProbe.class);
        assertThat(probe.inventory()).extracting(GpuInfo::uuid).containsExactly("GPU-a", "GPU-b");
        // the follower thread reads the file asynchronously
        long deadline = System.nanoTime() + 5_000_000_000L;
        List<GpuHealth> health = probe.health();
        while (health.get(1).xidErrors().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
            health = probe.health();
        }
        assertThat(health).extracting(GpuHealth::eccUncorrectable).containsExactly(0L, 5L);
        assertThat(health.get(1).xidErrors()).as("the newer XID, on the GPU at bus 3B").containsExactly(79);
        assertThat(health.get(0).xidErrors()).isEmpty();
        assertThat(probe.health().get(1).xidErrors()).as("reported once").isEmpty();
    }
}
