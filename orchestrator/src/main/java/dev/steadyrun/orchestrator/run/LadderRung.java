package dev.steadyrun.orchestrator.run;

import dev.steadyrun.protocol.RestartKnobs;

/**
 * One step of the divergence ladder: the knobs applied to the n-th rollback of a run. Each rung states its knobs
 * in full (they do not compound), so the policy reads as what the trainer will actually get.
 *
 * @param resetLossScaler start the dynamic loss scaler again from its initial scale
 * @param lrMultiplier    multiplies the scheduled learning rate (1.0 leaves it alone)
 * @param clipNorm        gradient clipping by global L2 norm; null leaves the run's value
 * @param skipBatches     batches to skip after the restored checkpoint's data position
 */
public record LadderRung(boolean resetLossScaler, double lrMultiplier, Double clipNorm, long skipBatches) {

    /** The rung as restart knobs (their own bounds checked: {@link RestartKnobs}). */
    public RestartKnobs knobs() {
        return new RestartKnobs(lrMultiplier == 1.0 ? null : lrMultiplier, null, clipNorm, resetLossScaler,
                skipBatches, null);
    }
}
