package dev.steadyrun.soak;

import java.util.Map;

import dev.steadyrun.protocol.RestartKnobs;

/**
 * TEST TOOL — the numbers a simulated OPT trainer reports: the learning-rate schedule of its assignment's
 * {@code trainerConfig} with the restart knobs applied, an OPT-like loss curve, and FP16's dynamic loss scaler.
 * Pure and deterministic given its inputs.
 */
final class SyntheticOpt {

    /** ln(50,272): the loss of a uniform guess over OPT's vocabulary, where training starts. */
    static final double INITIAL_LOSS = Math.log(50_272);
    /** Where OPT-175B's training loss flattens out (its logbook's curves end just under 2). */
    static final double FLOOR_LOSS = 1.9;

    private final double peakLr;
    private final long warmupSteps;
    private final long decaySteps;
    private final double finalLrRatio;
    final double lossScaleInit;
    final double lossScaleFactor;
    final int lossScaleWindow;
    final double lossScaleMin;
    final double clipNorm;
    final long checkpointInterval;
    final long maxSteps;
    final long batchTokens;
    private final RestartKnobs knobs;

    SyntheticOpt(Map<String, String> config, RestartKnobs knobs) {
        this.peakLr = number(config, "lr", 6e-5);
        this.batchTokens = (long) number(config, "batchTokens", 2_031_616);
        long warmupByTokens = (long) (number(config, "warmupTokens", 0) / batchTokens);
        this.warmupSteps = Math.max((long) number(config, "warmupSteps", 0), warmupByTokens);
        this.decaySteps = Math.max(1, (long) (number(config, "decayTokens", 300e9) / batchTokens));
        this.finalLrRatio = number(config, "finalLrRatio", 0.1);
        this.lossScaleInit = number(config, "lossScaleInit", 4);
        this.lossScaleFactor = number(config, "lossScaleFactor", 2);
        this.lossScaleWindow = (int) number(config, "lossScaleWindow", 256);
        this.lossScaleMin = number(config, "lossScaleMin", 1.0 / 32);
        this.checkpointInterval = Math.max(1, (long) number(config, "checkpointInterval", 1000));
        this.maxSteps = (long) number(config, "maxSteps", Long.MAX_VALUE);
        this.knobs = knobs == null ? RestartKnobs.NONE : knobs;
        this.clipNorm = this.knobs.clipNorm() != null ? this.knobs.clipNorm() : number(config, "clipNorm", 1.0);
    }

    private static double number(Map<String, String> config, String key, double fallback) {
        String v = config == null ? null : config.get(key);
        return v == null ? fallback : Double.parseDouble(v);
    }

    /** Linear warm-up to the peak, then linear decay to {@code finalLrRatio} × peak; knobs as the trainer applies them. */
    double lr(long step) {
        double base;
        if (knobs.lrOverride() != null) {
            base = knobs.lrOverride();
        } else {
            if (step < warmupSteps) {
                base = peakLr * (step + 1) / warmupSteps;
            } else {
                double progress = Math.min(1, (double) (step - warmupSteps) / decaySteps);
                base = peakLr * (1 - progress * (1 - finalLrRatio));
            }
        }
        return knobs.lrMultiplier() == null ? base : base * knobs.lrMultiplier();
    }

    /** A power law from ln(vocab) down towards the floor, as OPT's curve falls; {@code gaussian} gives 1 % noise. */
    static double loss(long step, double gaussian) {
        return (FLOOR_LOSS + (INITIAL_LOSS - FLOOR_LOSS) * Math.pow(1 + step / 60.0, -0.55)) * (1 + 0.01 * gaussian);
    }

    boolean resetsLossScaler() {
        return knobs.resetLossScaler();
    }

    /** A rollback whose knobs change the optimisation (not only the scaler): the divergence does not come back. */
    boolean changesOptimisation() {
        return knobs.lrMultiplier() != null || knobs.lrOverride() != null || knobs.skipBatches() > 0
                || knobs.clipNorm() != null;
    }

    /**
     * FP16's dynamic loss scaler, simplified from the trainer's ({@code dev.steadyrun.trainer.LossScaler}, metaseq's):
     * halve on an overflowed step (clamped at the minimum), multiply by the factor after {@code window} clean steps
     * in a row. The trainer's also doubles and halves its window and leaves the scale where it was at the floor;
     * the soak needs only the scale falling under 1 as a divergence begins.
     */
    static final class LossScaler {
        private final SyntheticOpt opt;
        double scale;
        int cleanSteps;

        LossScaler(SyntheticOpt opt, double scale) {
            this.opt = opt;
            this.scale = scale;
        }

        /** The scale the step ran with; then the scaler moves for the next step. */
        double step(boolean overflow) {
            double used = scale;
            if (overflow) {
                scale = Math.max(opt.lossScaleMin, scale / opt.lossScaleFactor);
                cleanSteps = 0;
            } else if (++cleanSteps >= opt.lossScaleWindow) {
                scale *= opt.lossScaleFactor;
                cleanSteps = 0;
            }
            return used;
        }
    }
}
