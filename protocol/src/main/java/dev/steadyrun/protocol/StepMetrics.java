package dev.steadyrun.protocol;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One optimizer step, printed by the trainer as one JSON line on stdout ({@code "type":"step"}).
 *
 * @param tokensSeen       tokens consumed by the run so far, all ranks together
 * @param loss             mean cross-entropy of the step (NaN or infinite when the step diverged)
 * @param gradNorm         global L2 norm of the unscaled gradients before clipping
 * @param lossScale        dynamic loss scale in force for this step (1.0 in FP32 mode)
 * @param overflow         the scaled gradients overflowed and the step was skipped
 * @param lr               learning rate applied at this step
 * @param stepTimeMs       wall time of the step, gradient accumulation included
 * @param rssBytes         resident set size of the trainer process
 * @param activationNorms  per layer: the RMS of the block's output activations
 * @param clipNorm         the gradient-clipping threshold in force for this step (0: no clipping), so that a
 *                         {@code clipNorm} knob's effect is visible; null from trainers that predate the field
 */
public record StepMetrics(String type, long step, long tokensSeen, double loss, double gradNorm, double lossScale,
                          boolean overflow, double lr, double tokensPerSec, double stepTimeMs, long rssBytes,
                          List<Double> activationNorms, Double clipNorm) implements TrainerLine {

    public static final String TYPE = "step";

    public StepMetrics(long step, long tokensSeen, double loss, double gradNorm, double lossScale, boolean overflow,
                       double lr, double tokensPerSec, double stepTimeMs, long rssBytes, List<Double> activationNorms,
                       Double clipNorm) {
        this(TYPE, step, tokensSeen, loss, gradNorm, lossScale, overflow, lr, tokensPerSec, stepTimeMs, rssBytes,
                activationNorms, clipNorm);
    }

    public StepMetrics(long step, long tokensSeen, double loss, double gradNorm, double lossScale, boolean overflow,
                       double lr, double tokensPerSec, double stepTimeMs, long rssBytes, List<Double> activationNorms) {
        this(step, tokensSeen, loss, gradNorm, lossScale, overflow, lr, tokensPerSec, stepTimeMs, rssBytes,
                activationNorms, null);
    }

    /** This process's resident set size, for {@link #rssBytes}: from /proc on Linux, 0 elsewhere (as allowed). */
    public static long rssOfThisProcess() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: 0 rather than fail the step
        }
        return 0;
    }
}
