package dev.steadyrun.orchestrator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The test tool that reads the dashboard's and the alert rules' expressions: what it accepts and what it refuses. */
class PromQlTest {

    @Test
    void readsTheMetricNamesOfEverySelector() {
        assertThat(PromQl.metricNames("histogram_quantile(0.95, sum by (le, kind) (rate(a_seconds_bucket{job=~\"$job\"}"
                + "[$__rate_interval])))")).containsExactly("a_seconds_bucket");
        assertThat(PromQl.metricNames("max by (run) (max_over_time(step{job=\"x\"}[30m])) <= max by (run)"
                + " (max_over_time(step{job=\"x\"}[30m] offset 30m))")).containsExactly("step");
        assertThat(PromQl.metricNames("sum(increase(c_total{outcome=\"dead_lettered\",}[1h])) > 3 and on (job)"
                + " group_left vector(1) or absent(up{job=\"j\"} == 1) unless -b / 2 ^ 2 ^ 1e-3"))
                .containsExactly("c_total", "up", "b");
        assertThat(PromQl.metricNames("count(up{job=\"j\"} == bool 1) < 2")).containsExactly("up");
        assertThat(PromQl.metricNames("sum(rate(x[5m:1m])) without (instance)")).containsExactly("x");
        assertThat(PromQl.metricNames("topk(3, {__name__=\"y\"})")).isEmpty();
        // a label value that looks like an operator or a metric is a string, not a selector
        assertThat(PromQl.metricNames("m{state=\"or\", other=\"n_total\"} > 0")).containsExactly("m");
    }

    @Test
    void refusesWhatPrometheusWouldNotLoad() {
        for (String bad : new String[] {
                "rat(x[5m])", // a misspelt function
                "sum(rate(x[5m])", // a parenthesis left open
                "x{job=\"a\"", // a brace left open
                "x{job=a}", // an unquoted label value
                "x{job==\"a\"}", // not a matcher
                "rate(x[5])", // a range without a unit
                "x[5m", "x offset", "x >", "> 1", "sum by (run (x)", "x y", "x{job=\"a}",
                "max by (run) (x) <= by (run) (y)", ""}) {
            assertThatThrownBy(() -> PromQl.metricNames(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
