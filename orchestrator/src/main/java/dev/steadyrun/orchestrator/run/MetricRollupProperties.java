package dev.steadyrun.orchestrator.run;

import java.time.Duration;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Step metric roll-up and retention ({@code steadyrun.metric-rollup.*}, {@link MetricRollup}); the defaults live here
 * and nowhere else. Rank 0's rows and every rank's steps in the detectors' window
 * ({@link RecoveryPolicy#detectorWindowSteps()}) are never rolled up.
 *
 * @param enabled           off in tests, which call {@link MetricRollup#rollUp} and {@link MetricRollup#sweepRetention}
 *                          with their clock
 * @param interval          how often the roll-up and retention job runs
 * @param age               the other ranks' rows of a step are rolled up once rank 0 reported that step longer ago
 *                          than this (and the step is out of the detectors' window)
 * @param stepsPerRow       consecutive steps per rolled-up row: 1 keeps min/median/max per step across the other
 *                          ranks; more shrinks the history further, each row then spans the ranks and the steps
 * @param batchRows         about how many rows one batch rolls up (one statement, one short transaction): the batch
 *                          takes whole windows of steps, at least one
 * @param rolledUpRetention rolled-up rows whose newest step is older than this are deleted
 * @param rank0Retention    unset (the default) keeps rank 0's rows for good: goodput and the run's chart read them.
 *                          Set, rank 0's rows of runs that ended longer ago than this are deleted (never of a run that
 *                          has not ended); such a run's chart and goodput then come back empty
 * @param reindexInterval   how often run_metric's primary key is rebuilt without blocking writers: the pages that
 *                          rank 0's kept entries pin among rolled-up ones are only given back that way
 *                          ({@link MetricRollup#reindexIfDue})
 */
@Validated
@ConfigurationProperties("steadyrun.metric-rollup")
public record MetricRollupProperties(
        @DefaultValue("true") boolean enabled,
        @NotNull @DefaultValue("1m") Duration interval,
        @NotNull @DefaultValue("1h") Duration age,
        @Min(1) @Max(10_000) @DefaultValue("1") int stepsPerRow,
        @Min(100) @Max(1_000_000) @DefaultValue("20000") int batchRows,
        @NotNull @DefaultValue("90d") Duration rolledUpRetention,
        Duration rank0Retention,
        @NotNull @DefaultValue("1d") Duration reindexInterval) {

    public MetricRollupProperties {
        positive("interval", interval);
        positive("age", age);
        positive("rolled-up-retention", rolledUpRetention);
        positive("reindex-interval", reindexInterval);
        if (rank0Retention != null) {
            positive("rank0-retention", rank0Retention);
        }
    }

    private static void positive(String name, Duration d) {
        if (d != null && (d.isNegative() || d.isZero())) {
            throw new IllegalArgumentException("steadyrun.metric-rollup." + name + " must be positive, was " + d);
        }
    }
}
