package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class PrometheusTimerTest {

    private static final String SCRAPE = """
            # HELP steadyrun_restart_placement_seconds One restart request
            # TYPE steadyrun_restart_placement_seconds histogram
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="placed",le="0.001"} 0
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="placed",le="0.01"} 50
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="placed",le="0.1"} 99
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="placed",le="+Inf"} 100
            steadyrun_restart_placement_seconds_count{application="a",outcome="placed"} 100
            steadyrun_restart_placement_seconds_sum{application="a",outcome="placed"} 2.5
            steadyrun_restart_placement_seconds_max{application="a",outcome="placed"} 0.35
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="waiting",le="0.001"} 7
            steadyrun_restart_placement_seconds_bucket{application="a",outcome="waiting",le="+Inf"} 7
            steadyrun_restart_placement_seconds_count{application="a",outcome="waiting"} 7
            steadyrun_restart_placement_seconds_sum{application="a",outcome="waiting"} 0.0035
            steadyrun_restart_placement_seconds_max{application="a",outcome="waiting"} 0.0009
            steadyrun_restart_placement_seconds_sum_other{application="a"} 99
            """;

    @Test
    void countMeanMaxAndBucketPercentilesOfOneSeries() {
        PrometheusTimer placed = PrometheusTimer.read(SCRAPE, "steadyrun_restart_placement", "outcome=\"placed\"");
        assertThat(placed.count()).isEqualTo(100);
        assertThat(placed.meanSeconds()).isCloseTo(0.025, within(1e-12));
        assertThat(placed.maxSeconds()).isEqualTo(0.35);
        assertThat(placed.p50Seconds()).isEqualTo(0.01);
        assertThat(placed.p99Seconds()).isEqualTo(0.1);
    }

    @Test
    void allSeriesTogetherAndNoneAtAll() {
        PrometheusTimer all = PrometheusTimer.read(SCRAPE, "steadyrun_restart_placement", "");
        assertThat(all.count()).isEqualTo(107);
        assertThat(all.maxSeconds()).isEqualTo(0.35);
        PrometheusTimer none = PrometheusTimer.read(SCRAPE, "steadyrun_scheduling_pass", "");
        assertThat(none.count()).isZero();
        assertThat(none.meanSeconds()).isNaN();
        assertThat(none.p99Seconds()).isNaN();
    }
}
