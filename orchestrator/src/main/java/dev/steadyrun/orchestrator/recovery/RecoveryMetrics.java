package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.run.GoodputResponse;
import dev.steadyrun.orchestrator.run.RunTelemetry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;

/**
 * Recovery's meters: detection latency and time to recovery as histograms by incident kind, restarts by cause,
 * restart budgets used up, and each live or recovering run's training figures (labelled {@code run}: only the
 * runs the watch measured last, so a run that ends loses its series at the next watch tick and the label's values
 * stay bounded by the runs alive at once).
 */
@Component
class RecoveryMetrics {

    private final MeterRegistry registry;
    private final MultiGauge goodput;
    private final MultiGauge goodputSeconds;
    /** Productive ÷ wall summed over the runs last measured; NaN while none has wall time. */
    private final AtomicReference<Double> fleetGoodput = new AtomicReference<>(Double.NaN);
    private final MultiGauge step;
    private final MultiGauge loss;
    private final MultiGauge lossScale;
    private final MultiGauge tokensPerSecond;
    private final MultiGauge restartCount;
    private final Counter budgetPaused;
    private final Counter budgetFailed;

    RecoveryMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.goodput = MultiGauge.builder("steadyrun.run.goodput")
                .description("Productive training time / wall time since the run's first placement").register(registry);
        this.goodputSeconds = MultiGauge.builder("steadyrun.run.goodput.seconds")
                .description("Wall time since the run's first placement by part: productive, lost_work, restart,"
                        + " waiting_for_nodes, paused").baseUnit("seconds").register(registry);
        Gauge.builder("steadyrun.fleet.goodput", fleetGoodput, AtomicReference::get)
                .description("Productive time / wall time summed over the live and recovering runs, each since its"
                        + " first placement").register(registry);
        this.step = MultiGauge.builder("steadyrun.run.step")
                .description("Rank 0's newest step (0 before the first)").register(registry);
        this.loss = MultiGauge.builder("steadyrun.run.loss").description("Loss of rank 0's newest step")
                .register(registry);
        this.lossScale = MultiGauge.builder("steadyrun.run.loss.scale")
                .description("Dynamic loss scale of rank 0's newest step (1 in FP32)").register(registry);
        this.tokensPerSecond = MultiGauge.builder("steadyrun.run.tokens.per.second")
                .description("Tokens per second of the whole run, at rank 0's newest step").register(registry);
        this.restartCount = MultiGauge.builder("steadyrun.run.restart.count")
                .description("Generations of the run started by an incident").register(registry);
        this.budgetPaused = budgetExhausted(registry, "paused");
        this.budgetFailed = budgetExhausted(registry, "failed");
    }

    private static Counter budgetExhausted(MeterRegistry registry, String outcome) {
        return Counter.builder("steadyrun.run.restart.budget.exhausted").tag("outcome", outcome)
                .description("Runs out of restarts: paused for a human (restart budget used up) or failed"
                        + " (restarts made no progress)").register(registry);
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

    /** A run's restarts ran out: paused for a human, or failed because restarts made no progress. */
    void restartBudgetExhausted(boolean paused) {
        (paused ? budgetPaused : budgetFailed).increment();
    }

    /** One run's figures; goodput, the breakdown and the last step are null before the run has them. */
    record RunFigures(UUID runId, RunTelemetry.LastStep last, int restarts, Double goodput,
                      GoodputResponse breakdown) {
    }

    /** Replaces every run's series: runs missing from {@code runs} lose theirs. */
    void runs(List<RunFigures> runs) {
        register(goodput, runs, RunFigures::goodput);
        register(step, runs, f -> f.last() == null ? 0L : f.last().step());
        register(loss, runs, f -> f.last() == null ? null : f.last().loss());
        register(lossScale, runs, f -> f.last() == null ? null : f.last().lossScale());
        register(tokensPerSecond, runs, f -> f.last() == null ? null : f.last().tokensPerSec());
        register(restartCount, runs, RunFigures::restarts);
        List<MultiGauge.Row<?>> parts = new ArrayList<>();
        double productive = 0, wall = 0;
        for (RunFigures f : runs) {
            GoodputResponse b = f.breakdown();
            if (b == null) {
                continue;
            }
            Tags run = Tags.of("run", f.runId().toString());
            parts.add(MultiGauge.Row.of(run.and("part", "productive"), b.productiveSeconds()));
            parts.add(MultiGauge.Row.of(run.and("part", "lost_work"), b.lostWorkSeconds()));
            parts.add(MultiGauge.Row.of(run.and("part", "restart"), b.restartSeconds()));
            parts.add(MultiGauge.Row.of(run.and("part", "waiting_for_nodes"), b.waitingForNodesSeconds()));
            parts.add(MultiGauge.Row.of(run.and("part", "paused"), b.pausedSeconds()));
            productive += b.productiveSeconds();
            wall += b.wallSeconds();
        }
        goodputSeconds.register(parts, true);
        fleetGoodput.set(wall > 0 ? productive / wall : Double.NaN);
    }

    private static void register(MultiGauge gauge, List<RunFigures> runs, Function<RunFigures, Number> value) {
        gauge.register(runs.stream().filter(f -> value.apply(f) != null).map(f -> MultiGauge.Row.of(
                Tags.of("run", f.runId().toString()), Objects.requireNonNull(value.apply(f)))).toList(), true);
    }
}
