package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

import org.springframework.stereotype.Component;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;

/**
 * Recovery's meters: detection latency and time to recovery as histograms by incident kind, restarts by cause,
 * and each live run's goodput.
 */
@Component
class RecoveryMetrics {

    private final MeterRegistry registry;
    private final MultiGauge goodput;

    RecoveryMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.goodput = MultiGauge.builder("steadyrun.run.goodput")
                .description("Productive training time / wall time since the run's first placement").register(registry);
    }

    void detected(IncidentKind kind, Duration latency) {
        Timer.builder("steadyrun.recovery.detection.latency").description("From a failure becoming visible to its incident")
                .tag("kind", kind.name()).publishPercentileHistogram().register(registry).record(latency);
    }

    void recovered(IncidentKind kind, Duration timeToRecovery) {
        Timer.builder("steadyrun.recovery.time.to.recovery")
                .description("From an incident's detection to the first step of the restarted generation")
                .tag("kind", kind.name()).publishPercentileHistogram().register(registry).record(timeToRecovery);
    }

    void restarted(IncidentCause cause) {
        Counter.builder("steadyrun.run.restarts").description("Restarts of runs at a new generation, by cause")
                .tag("cause", cause.name()).register(registry).increment();
    }

    record Goodput(UUID runId, double value) {
    }

    void goodput(List<Goodput> runs) {
        goodput.register(runs.stream().map(g -> MultiGauge.Row.of(Tags.of("run", g.runId().toString()), g.value()))
                .toList(), true);
    }
}
