package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** The roll-up's settings: defaults in the record, durations refused unless positive. */
class MetricRollupPropertiesTest {

    @Test
    void defaultsLiveInTheRecord() {
        MetricRollupProperties p = bind(Map.of());
        assertThat(p.enabled()).isTrue();
        assertThat(p.interval()).isEqualTo(Duration.ofMinutes(1));
        assertThat(p.age()).isEqualTo(Duration.ofHours(1));
        assertThat(p.stepsPerRow()).isEqualTo(1);
        assertThat(p.batchRows()).isEqualTo(20_000);
        assertThat(p.rolledUpRetention()).isEqualTo(Duration.ofDays(90));
        assertThat(p.rank0Retention()).isNull();
        assertThat(bind(Map.of("steadyrun.metric-rollup.rank0-retention", "365d")).rank0Retention())
                .isEqualTo(Duration.ofDays(365));
    }

    @Test
    void durationsMustBePositive() {
        assertThatThrownBy(() -> bind(Map.of("steadyrun.metric-rollup.age", "0s")))
                .hasStackTraceContaining("steadyrun.metric-rollup.age must be positive");
        assertThatThrownBy(() -> bind(Map.of("steadyrun.metric-rollup.rank0-retention", "-1d")))
                .hasStackTraceContaining("steadyrun.metric-rollup.rank0-retention must be positive");
    }

    private static MetricRollupProperties bind(Map<String, String> values) {
        return new Binder(new MapConfigurationPropertySource(values))
                .bindOrCreate("steadyrun.metric-rollup", Bindable.of(MetricRollupProperties.class));
    }
}
