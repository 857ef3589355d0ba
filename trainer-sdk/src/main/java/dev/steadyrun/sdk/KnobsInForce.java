package dev.steadyrun.sdk;

import java.util.ArrayList;
import java.util.List;

import dev.steadyrun.protocol.RestartKnobs;

/**
 * The restart knobs a run trains with, saved in every checkpoint so that they outlive the restore that applied
 * them (docs/trainer-protocol.md, section 5).
 *
 * @param lrMultiplier the product of every {@code lrMultiplier} applied so far
 * @param lrOverride   the peak learning rate an {@code lrOverride} set, or null
 * @param clipNorm     the clipping threshold a {@code clipNorm} set, or null
 * @param history      every knob applied, in order
 */
public record KnobsInForce(double lrMultiplier, Double lrOverride, Double clipNorm, List<Applied> history) {

    public static final KnobsInForce NONE = new KnobsInForce(1.0, null, null, List.of());

    /** One applied knob: at which step (the restored one), in which generation, which knob and value. */
    public record Applied(long step, long generation, String knob, String value) {
    }

    public KnobsInForce {
        history = List.copyOf(history);
    }

    /**
     * These knobs with {@code k} applied at {@code step}. {@code resetLossScaler} and {@code skipBatches} act once
     * (the caller resets its scaler or moves its data cursor) and are only recorded here.
     *
     * @throws IllegalArgumentException for {@code optimizer}: a DL4J network's updater is part of its configuration
     */
    KnobsInForce apply(RestartKnobs k, long step, long generation) {
        if (k.optimizer() != null) {
            throw new IllegalArgumentException("--knob optimizer: this program cannot switch its optimizer to "
                    + k.optimizer());
        }
        List<Applied> h = new ArrayList<>(history);
        double multiplier = lrMultiplier;
        Double override = lrOverride;
        Double clip = clipNorm;
        if (k.lrMultiplier() != null) {
            multiplier *= k.lrMultiplier();
            h.add(new Applied(step, generation, "lrMultiplier", k.lrMultiplier().toString()));
        }
        if (k.lrOverride() != null) {
            override = k.lrOverride();
            h.add(new Applied(step, generation, "lrOverride", override.toString()));
        }
        if (k.clipNorm() != null) {
            clip = k.clipNorm();
            h.add(new Applied(step, generation, "clipNorm", clip.toString()));
        }
        if (k.resetLossScaler()) {
            h.add(new Applied(step, generation, "resetLossScaler", "true"));
        }
        if (k.skipBatches() > 0) {
            h.add(new Applied(step, generation, "skipBatches", Long.toString(k.skipBatches())));
        }
        return new KnobsInForce(multiplier, override, clip, h);
    }
}
