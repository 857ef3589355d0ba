package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.ChaosFault;

/**
 * The test faults of a run, kept out of the step loop, which only asks the plan. They let the agent's and
 * orchestrator's end-to-end tests, and the chaos API, make a real trainer hang, straggle or diverge: planned at
 * launch by the {@code debug*} config keys (see {@link TrainConfig}), or on cue through the fault file the agent
 * writes ({@code --fault-file}; one {@link ChaosFault.Kind#trainerLine()} per line, read once and deleted).
 *
 * <p>A chaos {@code diverge} follows OPT's logbook: in FP16 the loss scale collapses first (this rank's gradients
 * overflow, as FP16 gradients do, until the dynamic scaler's scale is below 1), and only then does the loss spike
 * (the LR multiplied by {@code debugDivergeLrFactor}); in FP32, which has no scale, the LR goes up at once.
 */
final class FaultPlan {

    private static final Logger log = LoggerFactory.getLogger(FaultPlan.class);

    private final Path file;
    private final double divergeLrFactor;
    /** The step before which the loop blocks for good (no more metrics; SIGTERM still ends it), or -1. */
    private long hangAtStep;
    /** The schedule step from which the LR is multiplied by {@code divergeLrFactor}, or -1. */
    private long divergeAtStep;
    /** From this step on, overflows are forced until the loss scale is below 1, or -1. */
    private long collapseFrom = -1;
    private double slowdown = 1;

    private FaultPlan(TrainConfig config, Path file) {
        this.file = file;
        this.hangAtStep = config.debugHangAtStep();
        this.divergeAtStep = config.debugDivergeAtStep();
        this.divergeLrFactor = config.debugDivergeLrFactor();
    }

    static FaultPlan of(TrainConfig config) {
        return new FaultPlan(config, null);
    }

    /** @param file the fault file the agent may write, or null for the config's faults only */
    static FaultPlan of(TrainConfig config, Path file) {
        return new FaultPlan(config, file);
    }

    /** Takes up what the fault file asks (when there is one) from {@code step} on. */
    void poll(long step, boolean fp16) {
        if (file == null) {
            return;
        }
        List<String> lines;
        try {
            lines = ChaosFault.take(file);
        } catch (IOException e) {
            log.warn("fault file {} unreadable: {}", file, e.toString());
            return;
        }
        for (String fault : lines) {
            log.warn("chaos (test tool): {} from step {}", fault, step);
            if (fault.equals(ChaosFault.Kind.HANG.trainerLine())) {
                hangAtStep = step;
            } else if (fault.equals(ChaosFault.Kind.STRAGGLE.trainerLine())) {
                slowdown = ChaosFault.STRAGGLE_FACTOR;
            } else if (fault.equals(ChaosFault.Kind.DIVERGE.trainerLine())) {
                if (fp16) {
                    collapseFrom = step;
                } else {
                    divergeAtStep = step;
                }
            } else {
                log.warn("fault file {}: unknown fault '{}', ignored", file, fault);
            }
        }
    }

    boolean hangsAt(long step) {
        return step == hangAtStep;
    }

    /** The factor on the scheduled LR of {@code step}: 1 unless the plan makes the run diverge from there. */
    double lrFactor(long step) {
        return divergeAtStep >= 0 && step >= divergeAtStep ? divergeLrFactor : 1.0;
    }

    /**
     * Whether this rank's gradients of {@code step}, taken at {@code lossScale}, must overflow: during a chaos
     * divergence, until the scale is below 1; the step that sees it below 1 starts the LR's blow-up.
     */
    boolean forcesOverflow(long step, double lossScale) {
        if (collapseFrom < 0 || step < collapseFrom) {
            return false;
        }
        if (lossScale >= 1.0) {
            return true;
        }
        collapseFrom = -1;
        divergeAtStep = step;
        return false;
    }

    /** A step's time over its normal time: above 1 while the trainer straggles. */
    double slowdown() {
        return slowdown;
    }
}
