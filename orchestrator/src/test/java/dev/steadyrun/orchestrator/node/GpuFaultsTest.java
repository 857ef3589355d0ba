package dev.steadyrun.orchestrator.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.node.GpuFaults.Severity;
import dev.steadyrun.protocol.GpuHealth;

class GpuFaultsTest {

    static GpuHealth gpu(int index, long eccUncorrectable, long nvlink, long retired, Integer... xids) {
        return new GpuHealth(index, 60, 1000, 80000, 90, 0, eccUncorrectable, retired, List.of(xids), nvlink);
    }

    @Test
    void xidCatalogue() {
        for (int fatal : new int[] {48, 62, 64, 74, 79, 95, 119, 120, 140, 154}) {
            assertThat(GpuFaults.classify(fatal).severity()).as("XID " + fatal).isEqualTo(Severity.FATAL);
        }
        for (int degraded : new int[] {61, 63, 92, 94, 121}) {
            assertThat(GpuFaults.classify(degraded).severity()).as("XID " + degraded).isEqualTo(Severity.DEGRADED);
        }
        for (int app : new int[] {13, 31, 43, 45, 69}) {
            assertThat(GpuFaults.classify(app).severity()).as("XID " + app).isEqualTo(Severity.APPLICATION);
        }
        assertThat(GpuFaults.classify(9999).severity()).isEqualTo(Severity.DEGRADED);
        assertThat(GpuFaults.classify(79).meaning()).contains("fallen off the bus");
    }

    @Test
    void applicationXidsAreNotNodeFaults() {
        assertThat(GpuFaults.assess(null, List.of(gpu(0, 0, 0, 0, 13, 31, 43)))).isEmpty();
    }

    @Test
    void theWorstFaultWinsAndNamesTheGpu() {
        var fault = GpuFaults.assess(null, List.of(gpu(0, 0, 0, 0, 92), gpu(3, 0, 0, 0, 79))).orElseThrow();
        assertThat(fault.severity()).isEqualTo(Severity.FATAL);
        assertThat(fault.reason()).startsWith("GPU 3: XID 79");
    }

    @Test
    void risingUncorrectableEccIsFatalRisingNvlinkIsDegraded() {
        List<GpuHealth> before = List.of(gpu(0, 1, 5, 0), gpu(1, 0, 0, 0));
        assertThat(GpuFaults.assess(before, List.of(gpu(0, 1, 5, 0), gpu(1, 0, 0, 0)))).isEmpty();
        var ecc = GpuFaults.assess(before, List.of(gpu(0, 2, 5, 0), gpu(1, 0, 0, 0))).orElseThrow();
        assertThat(ecc.severity()).isEqualTo(Severity.FATAL);
        assertThat(ecc.reason()).contains("GPU 0").contains("uncorrectable ECC errors rose from 1 to 2");
        var nvlink = GpuFaults.assess(before, List.of(gpu(0, 1, 5, 0), gpu(1, 0, 3, 0))).orElseThrow();
        assertThat(nvlink.severity()).isEqualTo(Severity.DEGRADED);
        assertThat(nvlink.reason()).contains("GPU 1").contains("NVLink");
    }

    @Test
    void countersAreNotCalledRisingWithoutAPreviousHeartbeat() {
        assertThat(GpuFaults.assess(null, List.of(gpu(0, 7, 9, 2)))).isEmpty();
    }
}
