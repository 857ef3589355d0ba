package dev.steadyrun.orchestrator.run;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that turns a run specification into the trainer-engine's configuration keys, sent to the agent
 * in every assignment. Numbers are written with Java's own {@code toString} so the trainer reads them back
 * exactly with {@code parseLong}/{@code parseDouble}.
 */
public final class TrainerConfig {

    private TrainerConfig() {
    }

    public static Map<String, String> of(RunSpec spec) {
        Map<String, String> c = new LinkedHashMap<>();
        RunSpec.Model m = spec.model();
        // The trainer knows only named sizes: explicit dimensions name the size their defaults came from.
        c.put("model", RunSpec.Model.CUSTOM.equals(m.size()) ? ModelPreset.closestTo(m.dModel()).label() : m.size());
        c.put("layers", Integer.toString(m.layers()));
        c.put("heads", Integer.toString(m.heads()));
        c.put("dModel", Integer.toString(m.dModel()));
        c.put("seqLen", Integer.toString(m.seqLen()));
        c.put("vocab", Integer.toString(m.vocab()));
        RunSpec.Hyper h = spec.hyper();
        c.put("lr", Double.toString(h.lr()));
        c.put("batchTokens", Long.toString(h.batchTokens()));
        c.put("microBatch", Integer.toString(h.microBatch()));
        c.put("beta1", Double.toString(h.beta1()));
        c.put("beta2", Double.toString(h.beta2()));
        c.put("weightDecay", Double.toString(h.weightDecay()));
        c.put("clipNorm", Double.toString(h.clipNorm()));
        c.put("warmupSteps", Long.toString(h.warmupSteps()));
        c.put("warmupTokens", Long.toString(h.warmupTokens()));
        c.put("decayTokens", Long.toString(h.decayTokens()));
        c.put("finalLrRatio", Double.toString(h.finalLrRatio()));
        c.put("dropout", Double.toString(h.dropout()));
        c.put("lossScaleInit", Double.toString(h.lossScaleInit()));
        c.put("lossScaleFactor", Double.toString(h.lossScaleFactor()));
        c.put("lossScaleWindow", Integer.toString(h.lossScaleWindow()));
        c.put("lossScaleMin", Double.toString(h.lossScaleMin()));
        c.put("precision", h.precision());
        c.put("seed", Long.toString(h.seed()));
        c.put("maxSteps", Long.toString(h.maxSteps()));
        c.put("checkpointInterval", Long.toString(spec.checkpointInterval()));
        c.put("data", spec.data().trainerValue());
        if (spec.tensorParallel() > 1) {
            // only then: a program other than the built-in trainer need not know the key
            c.put("tensorParallel", Integer.toString(spec.tensorParallel()));
        }
        return Collections.unmodifiableMap(c);
    }
}
