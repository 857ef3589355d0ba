package dev.steadyrun.protocol;

/**
 * The adjustments a restart may apply to a run, recorded in the checkpoint's history by the trainer.
 * Null fields leave the trainer's value as it is.
 *
 * @param lrMultiplier     multiplies the scheduled learning rate (OPT cut it by 10%: 0.9)
 * @param lrOverride       replaces the peak learning rate
 * @param clipNorm         gradient clipping by global L2 norm (OPT lowered 1.0 to 0.3)
 * @param resetLossScaler  start the dynamic loss scaler again from its initial scale
 * @param skipBatches      skip the next N batches of the data stream (PaLM skipped 200–500)
 * @param optimizer        {@code adamw} or {@code sgd}
 */
public record RestartKnobs(Double lrMultiplier, Double lrOverride, Double clipNorm, boolean resetLossScaler,
                           long skipBatches, String optimizer) {

    public static final RestartKnobs NONE = new RestartKnobs(null, null, null, false, 0, null);
}
