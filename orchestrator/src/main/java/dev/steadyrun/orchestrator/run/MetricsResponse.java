package dev.steadyrun.orchestrator.run;

import java.util.List;
import java.util.UUID;

/**
 * A run's step metrics, downsampled on the server: the steps in range are cut into buckets of
 * {@code bucketSteps} consecutive steps, one point per bucket that holds any.
 *
 * <p>Every rank reports every step. Rank 0's rows and every rank's recent steps are kept as reported; older rows of
 * the other ranks are rolled up ({@code steadyrun.metric-rollup}) into their min, median and max per step (or per
 * window of steps), which a point reads as it read the rows: {@code lossMin}, {@code lossMax}, {@code overflowSteps}
 * and {@code samples} still count every rank's rows, and the last values are rank 0's.
 */
public record MetricsResponse(UUID runId, long fromStep, long toStep, long bucketSteps, List<Point> points) {

    /**
     * One bucket. Loss keeps its min, max and last value (last = the highest step's, of the newest generation that
     * reported it, rank 0 first) so spikes survive downsampling; the other values are those of the last step.
     *
     * @param samples       rows in the bucket (steps × reporting ranks; a rolled-up row counts the rows it holds)
     * @param overflowSteps rows whose step was skipped on gradient overflow
     */
    public record Point(long firstStep, long step, double lossMin, double lossMax, double loss, double gradNorm,
                        double lossScale, double lr, double tokensPerSec, double stepTimeMs, long overflowSteps,
                        long samples) {
    }
}
