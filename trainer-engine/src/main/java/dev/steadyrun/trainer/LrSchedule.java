package dev.steadyrun.trainer;

/**
 * Linear warm-up (in steps when warmupSteps > 0, else in tokens) from 0 to peakLr, then linear decay to
 * finalRatio*peakLr at decayTokens tokens seen (OPT: 10% over 300B tokens), then flat.
 *
 * <p>A pure function of (step, tokensSeen) so a resumed run gets exactly the same rate as an uninterrupted one.
 * The decay runs linearly in tokens from the end of warm-up to decayTokens, as metaseq's polynomial decay
 * (power 1) runs from the last warm-up update to the last update. With a step warm-up the tokens seen at its end
 * are taken as {@code warmupSteps × tokensSeen / step}, i.e. the run's constant batch size (OPT never changes
 * it), which makes the two pieces meet exactly at peakLr.
 *
 * @param peakLr       the rate at the end of warm-up; must be finite and > 0
 * @param warmupSteps  warm-up length in optimizer steps (OPT-175B: 2000); 0 selects token warm-up
 * @param warmupTokens warm-up length in tokens (smaller OPT models: 375M); used only when warmupSteps == 0
 * @param decayTokens  tokens seen at which the rate reaches finalRatio*peakLr (OPT: 300B); must exceed
 *                     warmupTokens when warm-up is in tokens
 * @param finalRatio   the floor as a fraction of peakLr, in [0, 1] (OPT: 0.1)
 */
public record LrSchedule(double peakLr, long warmupSteps, long warmupTokens, long decayTokens, double finalRatio) {

    public LrSchedule {
        if (!(peakLr > 0) || !Double.isFinite(peakLr)) {
            throw new IllegalArgumentException("peakLr must be finite and > 0, got " + peakLr);
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
        }
        if (warmupTokens < 0) {
            throw new IllegalArgumentException("warmupTokens must be >= 0, got " + warmupTokens);
        }
        if (decayTokens <= 0) {
            throw new IllegalArgumentException("decayTokens must be > 0, got " + decayTokens);
        }
        if (warmupSteps == 0 && warmupTokens >= decayTokens) {
            throw new IllegalArgumentException("warmupTokens (" + warmupTokens
                    + ") must be < decayTokens (" + decayTokens + ") when warm-up is in tokens");
        }
        if (!(finalRatio >= 0 && finalRatio <= 1)) {
            throw new IllegalArgumentException("finalRatio must be in [0, 1], got " + finalRatio);
        }
    }

    /**
     * The learning rate for the optimizer step {@code step} (counted from 0), with {@code tokensSeen} the tokens
     * consumed before it. In step warm-up, step 0 gets 0 and step warmupSteps gets peakLr.
     */
    public double at(long step, long tokensSeen) {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
        if (tokensSeen < 0) {
            throw new IllegalArgumentException("tokensSeen must be >= 0, got " + tokensSeen);
        }
        if (warmupSteps > 0) {
            if (step < warmupSteps) {
                return peakLr * step / warmupSteps;
            }
            long decayStart = (long) Math.floor((double) tokensSeen * warmupSteps / step);
            return peakLr * decayFactor(tokensSeen, decayStart);
        }
        if (tokensSeen < warmupTokens) {
            return peakLr * tokensSeen / warmupTokens;
        }
        return peakLr * decayFactor(tokensSeen, warmupTokens);
    }

    /** 1 at decayStart, finalRatio at decayTokens and after, linear between. */
    private double decayFactor(long tokensSeen, long decayStart) {
        if (tokensSeen <= decayStart) {
            return 1.0;
        }
        if (tokensSeen >= decayTokens || decayStart >= decayTokens) {
            return finalRatio;
        }
        double progress = (double) (tokensSeen - decayStart) / (decayTokens - decayStart);
        return 1.0 - (1.0 - finalRatio) * progress;
    }
}
