package dev.steadyrun.trainer;

import java.util.List;
import java.util.Map;

import dev.steadyrun.trainer.data.DataCursor;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The JSON half of a checkpoint (the arrays are the other half): everything besides tensors that an exact resume
 * needs, the full config, and the history of restart knobs.
 *
 * @param step             optimizer steps completed; the next step's schedule index
 * @param adamSteps        applied AdamW updates (bias correction)
 * @param lrMultiplier     product of every {@code lrMultiplier} knob applied so far
 * @param peakLrOverride   set by an {@code lrOverride} knob; null: the config's {@code lr}
 * @param clipNormOverride set by a {@code clipNorm} knob; null: the config's {@code clipNorm}
 * @param optimizerOverride set by an {@code optimizer} knob; null: the config's {@code optimizer}
 * @param seed             the run's seed: initialization, data order and (mixed with the step) dropout masks
 * @param config           every config key, resolved ({@link TrainConfig#toMap()})
 */
public record TrainState(int format, long step, long tokensSeen, long adamSteps, double lrMultiplier,
                         Double peakLrOverride, Double clipNormOverride, String optimizerOverride,
                         LossScalerState lossScaler, DataCursor cursor, long seed, Map<String, String> config,
                         List<KnobRecord> knobHistory, int rank, int worldSize, long generation) {

    public static final int FORMAT = 1;
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    /** One applied restart knob: when (the step the run resumed at), in which generation, what and to which value. */
    public record KnobRecord(long step, long generation, String knob, String value) {
    }

    /** This state after more steps. */
    TrainState progressed(long step, long tokensSeen, long adamSteps, LossScalerState scaler, DataCursor cursor,
                          Map<String, String> config) {
        return new TrainState(format, step, tokensSeen, adamSteps, lrMultiplier, peakLrOverride, clipNormOverride,
                optimizerOverride, scaler, cursor, seed, config, knobHistory, rank, worldSize, generation);
    }

    public String toJson() {
        return JSON.writeValueAsString(this);
    }

    public static TrainState fromJson(String json) {
        TrainState s = JSON.readValue(json, TrainState.class);
        if (s.format() != FORMAT) {
            throw new IllegalArgumentException("checkpoint state format " + s.format() + " is not " + FORMAT);
        }
        return s;
    }
}
