package dev.steadyrun.orchestrator.run;

import java.util.List;
import java.util.UUID;

/**
 * A run's step metrics, downsampled on the server: the steps in range are cut into buckets of
 * {@code bucketSteps} consecutive steps, one point per bucket that holds any.
 */
public record MetricsResponse(UUID runId, long fromStep, long toStep, long bucketSteps, List<Point> points) {

    /**
     * One bucket. Loss keeps its min, max and last value (last = the highest step's, rank 0 first) so spikes
     * survive downsampling; the other values are those of the last step.
     *
     * @param samples       rows in the bucket (steps × reporting ranks)
     * @param overflowSteps rows whose step was skipped on gradient overflow
     */
    public record Point(long firstStep, long step, double lossMin, double lossMax, double loss, double gradNorm,
                        double lossScale, double lr, double tokensPerSec, double stepTimeMs, long overflowSteps,
                        long samples) {
    }
}
