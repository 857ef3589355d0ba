package dev.steadyrun.trainer;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every hyper-parameter of a run, with the OPT defaults in one place: {@link #DEFAULTS} here, and the
 * size-dependent ones in {@link ModelSize}. Built from {@code key=value} pairs (a JSON or properties file, then
 * {@code --set} overrides); every rejected value is reported with its key. The resolved map ({@link #toMap()}) is
 * saved in every checkpoint and reloads to an equal record.
 *
 * <p>{@code peerTimeoutSeconds} and {@code rendezvousTimeoutSeconds} matter only for data-parallel runs (world
 * size &gt; 1): how long a collective may make no progress before the peer counts as lost, and how long the ranks
 * wait for each other to join.
 *
 * <p>{@code debugDivergeAtStep}, {@code debugDivergeLrFactor} and {@code debugHangAtStep} are test tools: they make
 * a run diverge or hang on purpose so the orchestrator's detectors can be tested.
 */
public record TrainConfig(
        String model, int layers, int heads, int dModel, int seqLen, int vocab,
        double lr, long batchTokens, int microBatch, double clipNorm, double weightDecay,
        double beta1, double beta2, double adamEps, long warmupTokens, long warmupSteps, long decayTokens,
        double finalLrRatio, double dropout, Precision precision,
        double lossScaleInit, double lossScaleFactor, int lossScaleWindow, double lossScaleMin,
        long seed, long checkpointInterval, int keepCheckpoints, long keepEvery, long snapshotInterval, String data,
        long maxSteps,
        String optimizer, Sharding sharding, int tensorParallel, int threads, int peerTimeoutSeconds,
        int rendezvousTimeoutSeconds,
        long debugDivergeAtStep, double debugDivergeLrFactor, long debugHangAtStep) {

    public enum Precision {
        FP32("fp32"),
        /** FP16 forward weights, FP32 master weights and Adam state, FP16 overflow rule: see docs/trainer.md. */
        FP16_EMULATED("fp16-emulated");

        public final String label;

        Precision(String label) {
            this.label = label;
        }
    }

    /**
     * How data parallelism shards the training state: {@code zero1} keeps full FP32 parameters and gradients on every
     * rank and shards Adam's moments; {@code fsdp} shards parameters and gradients too and gathers each layer's
     * weights around its forward and backward passes (see docs/distributed.md).
     */
    public enum Sharding {
        ZERO1("zero1"),
        FSDP("fsdp");

        public final String label;

        Sharding(String label) {
            this.label = label;
        }
    }

    /**
     * Steps between memory snapshots (docs/recovery.md): the loop waits only for a snapshot's copy, but its write and
     * replication cost the CPU of about 0.7 of a tiny step on 2 busy cores (bench/snapshot.sh, 3 ranks), about 7% of
     * a step at 10, and a node loss loses at most 10 steps.
     */
    static final long DEFAULT_SNAPSHOT_INTERVAL = 10;

    /** Defaults that do not depend on the model size (metaseq/OPT values). Size-dependent ones: {@link ModelSize}. */
    static final Map<String, String> DEFAULTS = Map.ofEntries(
            Map.entry("model", "tiny"),
            Map.entry("vocab", String.valueOf(ModelSize.OPT_VOCAB)),
            Map.entry("clipNorm", "1.0"),
            Map.entry("weightDecay", "0.1"),
            Map.entry("beta1", "0.9"),
            Map.entry("beta2", "0.95"),
            Map.entry("adamEps", "1e-8"),
            Map.entry("finalLrRatio", "0.1"),
            Map.entry("dropout", "0.1"),
            Map.entry("precision", "fp32"),
            Map.entry("lossScaleInit", "4"),
            Map.entry("lossScaleFactor", "2"),
            Map.entry("lossScaleWindow", "256"),
            Map.entry("lossScaleMin", "0.03125"),
            Map.entry("seed", "1"),
            Map.entry("checkpointInterval", "100"),
            Map.entry("keepCheckpoints", "3"),
            Map.entry("keepEvery", "0"),
            Map.entry("snapshotInterval", String.valueOf(DEFAULT_SNAPSHOT_INTERVAL)),
            Map.entry("data", "europarl"),
            Map.entry("maxSteps", "1000"),
            Map.entry("optimizer", "adamw"),
            Map.entry("sharding", "zero1"),
            Map.entry("tensorParallel", "1"),
            Map.entry("threads", "0"),
            Map.entry("peerTimeoutSeconds", "60"),
            Map.entry("rendezvousTimeoutSeconds", "120"),
            Map.entry("debugDivergeAtStep", "-1"),
            Map.entry("debugDivergeLrFactor", "1000"),
            Map.entry("debugHangAtStep", "-1"));

    /** All keys, in the order they are saved. */
    public static final List<String> KEYS = List.of("model", "layers", "heads", "dModel", "seqLen", "vocab", "lr",
            "batchTokens", "microBatch", "clipNorm", "weightDecay", "beta1", "beta2", "adamEps", "warmupTokens",
            "warmupSteps", "decayTokens", "finalLrRatio", "dropout", "precision", "lossScaleInit", "lossScaleFactor",
            "lossScaleWindow", "lossScaleMin", "seed", "checkpointInterval", "keepCheckpoints", "keepEvery",
            "snapshotInterval", "data", "maxSteps", "optimizer", "sharding", "tensorParallel", "threads",
            "peerTimeoutSeconds", "rendezvousTimeoutSeconds", "debugDivergeAtStep", "debugDivergeLrFactor",
            "debugHangAtStep");

    private static final ObjectMapper JSON = JsonMapper.builder().build();

    /** Rejected configuration; the message names every bad key. */
    public static final class InvalidConfigException extends IllegalArgumentException {
        public InvalidConfigException(String message) {
            super(message);
        }
    }

    public static TrainConfig defaults() {
        return fromMap(Map.of());
    }

    /** Resolves explicit {@code key=value} pairs against the model size's and the global defaults, then validates. */
    public static TrainConfig fromMap(Map<String, String> explicit) {
        List<String> errors = new ArrayList<>();
        for (String key : explicit.keySet()) {
            if (!KEYS.contains(key)) {
                errors.add(key + ": unknown key (known: " + String.join(", ", KEYS) + ")");
            }
        }
        Map<String, String> values = new LinkedHashMap<>(DEFAULTS);
        String modelName = explicit.getOrDefault("model", DEFAULTS.get("model"));
        try {
            ModelSize size = ModelSize.byLabel(modelName);
            values.put("model", size.label);
            values.put("layers", String.valueOf(size.layers));
            values.put("heads", String.valueOf(size.heads));
            values.put("dModel", String.valueOf(size.dModel));
            values.put("seqLen", String.valueOf(size.seqLen));
            values.put("lr", String.valueOf(size.lr));
            values.put("batchTokens", String.valueOf(size.batchTokens));
            values.put("microBatch", String.valueOf(size.microBatch));
            values.put("warmupSteps", String.valueOf(size.warmupSteps));
            values.put("warmupTokens", String.valueOf(size.warmupTokens));
            values.put("decayTokens", String.valueOf(size.decayTokens));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(e.getMessage());
        }
        explicit.forEach((k, v) -> {
            if (KEYS.contains(k) && !k.equals("model")) {
                values.put(k, v.trim());
            }
        });
        Parser p = new Parser(values, errors);
        TrainConfig c = new TrainConfig(values.get("model"),
                p.integer("layers"), p.integer("heads"), p.integer("dModel"), p.integer("seqLen"), p.integer("vocab"),
                p.real("lr"), p.longInt("batchTokens"), p.integer("microBatch"), p.real("clipNorm"),
                p.real("weightDecay"), p.real("beta1"), p.real("beta2"), p.real("adamEps"), p.longInt("warmupTokens"),
                p.longInt("warmupSteps"), p.longInt("decayTokens"), p.real("finalLrRatio"), p.real("dropout"),
                p.parse("precision", TrainConfig::precisionOf), p.real("lossScaleInit"), p.real("lossScaleFactor"),
                p.integer("lossScaleWindow"), p.real("lossScaleMin"), p.longInt("seed"),
                p.longInt("checkpointInterval"), p.integer("keepCheckpoints"), p.longInt("keepEvery"),
                p.longInt("snapshotInterval"), values.get("data"), p.longInt("maxSteps"),
                p.parse("optimizer", TrainConfig::optimizerOf), p.parse("sharding", TrainConfig::shardingOf),
                p.integer("tensorParallel"), p.integer("threads"), p.integer("peerTimeoutSeconds"), p.integer("rendezvousTimeoutSeconds"),
                p.longInt("debugDivergeAtStep"), p.real("debugDivergeLrFactor"),
                p.longInt("debugHangAtStep"));
        if (errors.isEmpty()) {
            c.validate(errors);
        }
        if (!errors.isEmpty()) {
            throw new InvalidConfigException("invalid configuration: " + String.join("; ", errors));
        }
        return c;
    }

    /** A config file ({@code .json}: one flat object; anything else: properties) plus {@code key=value} overrides. */
    public static TrainConfig load(Path file, List<String> overrides) throws IOException {
        Map<String, String> explicit = file == null ? new LinkedHashMap<>() : readFile(file);
        explicit.putAll(parseOverrides(overrides));
        return fromMap(explicit);
    }

    public static Map<String, String> readFile(Path file) throws IOException {
        Map<String, String> map = new LinkedHashMap<>();
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json")) {
            JsonNode root;
            try {
                root = JSON.readTree(Files.readString(file));
            } catch (RuntimeException e) {
                throw new InvalidConfigException("config file " + file + " is not valid JSON: " + e.getMessage());
            }
            if (!root.isObject()) {
                throw new InvalidConfigException("config file " + file + " must hold one JSON object of key: value");
            }
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                map.put(e.getKey(), e.getValue().isValueNode() ? e.getValue().asString() : e.getValue().toString());
            }
        } else {
            Properties props = new Properties();
            try (Reader r = Files.newBufferedReader(file)) {
                props.load(r);
            }
            props.stringPropertyNames().forEach(k -> map.put(k, props.getProperty(k)));
        }
        return map;
    }

    public static Map<String, String> parseOverrides(List<String> overrides) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new InvalidConfigException("--set expects key=value, got '" + o + "'");
            }
            map.put(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
        }
        return map;
    }

    public static TrainConfig fromJson(String json) {
        Map<String, String> map = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : JSON.readTree(json).properties()) {
            map.put(e.getKey(), e.getValue().asString());
        }
        return fromMap(map);
    }

    /** Every key with its resolved value, as text. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("layers", String.valueOf(layers));
        m.put("heads", String.valueOf(heads));
        m.put("dModel", String.valueOf(dModel));
        m.put("seqLen", String.valueOf(seqLen));
        m.put("vocab", String.valueOf(vocab));
        m.put("lr", String.valueOf(lr));
        m.put("batchTokens", String.valueOf(batchTokens));
        m.put("microBatch", String.valueOf(microBatch));
        m.put("clipNorm", String.valueOf(clipNorm));
        m.put("weightDecay", String.valueOf(weightDecay));
        m.put("beta1", String.valueOf(beta1));
        m.put("beta2", String.valueOf(beta2));
        m.put("adamEps", String.valueOf(adamEps));
        m.put("warmupTokens", String.valueOf(warmupTokens));
        m.put("warmupSteps", String.valueOf(warmupSteps));
        m.put("decayTokens", String.valueOf(decayTokens));
        m.put("finalLrRatio", String.valueOf(finalLrRatio));
        m.put("dropout", String.valueOf(dropout));
        m.put("precision", precision.label);
        m.put("lossScaleInit", String.valueOf(lossScaleInit));
        m.put("lossScaleFactor", String.valueOf(lossScaleFactor));
        m.put("lossScaleWindow", String.valueOf(lossScaleWindow));
        m.put("lossScaleMin", String.valueOf(lossScaleMin));
        m.put("seed", String.valueOf(seed));
        m.put("checkpointInterval", String.valueOf(checkpointInterval));
        m.put("keepCheckpoints", String.valueOf(keepCheckpoints));
        m.put("keepEvery", String.valueOf(keepEvery));
        m.put("snapshotInterval", String.valueOf(snapshotInterval));
        m.put("data", data);
        m.put("maxSteps", String.valueOf(maxSteps));
        m.put("optimizer", optimizer);
        m.put("sharding", sharding.label);
        m.put("tensorParallel", String.valueOf(tensorParallel));
        m.put("threads", String.valueOf(threads));
        m.put("peerTimeoutSeconds", String.valueOf(peerTimeoutSeconds));
        m.put("rendezvousTimeoutSeconds", String.valueOf(rendezvousTimeoutSeconds));
        m.put("debugDivergeAtStep", String.valueOf(debugDivergeAtStep));
        m.put("debugDivergeLrFactor", String.valueOf(debugDivergeLrFactor));
        m.put("debugHangAtStep", String.valueOf(debugHangAtStep));
        return m;
    }

    public String toJson() {
        return JSON.writeValueAsString(toMap());
    }

    public ModelConfig modelConfig() {
        return new ModelConfig(layers, heads, dModel, seqLen, vocab);
    }

    /** Micro-batches accumulated per optimizer step to reach {@link #batchTokens}. */
    public int accumulationSteps() {
        return (int) (batchTokens / ((long) microBatch * seqLen));
    }

    public LrSchedule lrSchedule(double peakLr) {
        return new LrSchedule(peakLr, warmupSteps, warmupTokens, decayTokens, finalLrRatio);
    }

    private void validate(List<String> errors) {
        check(errors, layers >= 1, "layers", "must be ≥ 1, was " + layers);
        check(errors, heads >= 1, "heads", "must be ≥ 1, was " + heads);
        check(errors, dModel >= 1 && heads >= 1 && dModel % heads == 0, "dModel",
                "must be a positive multiple of heads (" + heads + "), was " + dModel);
        check(errors, seqLen >= 1, "seqLen", "must be ≥ 1, was " + seqLen);
        check(errors, vocab >= 2, "vocab", "must be ≥ 2, was " + vocab);
        check(errors, lr > 0 && Double.isFinite(lr), "lr", "must be a positive number, was " + lr);
        check(errors, microBatch >= 1, "microBatch", "must be ≥ 1, was " + microBatch);
        long perMicro = (long) Math.max(microBatch, 1) * Math.max(seqLen, 1);
        check(errors, batchTokens >= perMicro && batchTokens % perMicro == 0, "batchTokens",
                "must be a positive multiple of microBatch·seqLen (" + perMicro + "), was " + batchTokens);
        check(errors, clipNorm >= 0, "clipNorm", "must be ≥ 0 (0 turns clipping off), was " + clipNorm);
        check(errors, weightDecay >= 0, "weightDecay", "must be ≥ 0, was " + weightDecay);
        check(errors, beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1), was " + beta1);
        check(errors, beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1), was " + beta2);
        check(errors, adamEps > 0, "adamEps", "must be > 0, was " + adamEps);
        check(errors, warmupTokens >= 0, "warmupTokens", "must be ≥ 0, was " + warmupTokens);
        check(errors, warmupSteps >= 0, "warmupSteps", "must be ≥ 0, was " + warmupSteps);
        check(errors, decayTokens > 0, "decayTokens", "must be > 0, was " + decayTokens);
        check(errors, warmupSteps > 0 || warmupTokens < decayTokens, "warmupTokens",
                "must be < decayTokens (" + decayTokens + ") when warmupSteps is 0, was " + warmupTokens);
        check(errors, finalLrRatio >= 0 && finalLrRatio <= 1, "finalLrRatio", "must be in [0, 1], was " + finalLrRatio);
        check(errors, dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), was " + dropout);
        check(errors, lossScaleInit > 0, "lossScaleInit", "must be > 0, was " + lossScaleInit);
        check(errors, lossScaleFactor > 1, "lossScaleFactor", "must be > 1, was " + lossScaleFactor);
        check(errors, lossScaleWindow >= 1, "lossScaleWindow", "must be ≥ 1, was " + lossScaleWindow);
        check(errors, lossScaleMin > 0 && lossScaleMin <= lossScaleInit, "lossScaleMin",
                "must be in (0, lossScaleInit], was " + lossScaleMin);
        check(errors, checkpointInterval >= 1, "checkpointInterval", "must be ≥ 1, was " + checkpointInterval);
        check(errors, keepCheckpoints >= 1, "keepCheckpoints", "must be ≥ 1, was " + keepCheckpoints);
        check(errors, keepEvery >= 0, "keepEvery", "must be ≥ 0 (0: keep only the newest), was " + keepEvery);
        check(errors, snapshotInterval >= 0, "snapshotInterval", "must be ≥ 0 (0: no memory snapshots), was "
                + snapshotInterval);
        check(errors, data != null && !data.isBlank(), "data", "must name a dataset directory or 'europarl'");
        check(errors, maxSteps >= 0, "maxSteps", "must be ≥ 0, was " + maxSteps);
        // Megatron-LM splits whole heads, the FFN's 4·dModel columns and the vocabulary's rows over the group
        if (check(errors, tensorParallel >= 1, "tensorParallel", "must be ≥ 1 (1: no tensor parallelism), was "
                + tensorParallel)) {
            check(errors, heads % tensorParallel == 0, "tensorParallel", "must divide heads (" + heads + "), was "
                    + tensorParallel);
            check(errors, vocab % tensorParallel == 0, "tensorParallel", "must divide vocab (" + vocab + "), was "
                    + tensorParallel);
        }
        check(errors, threads >= 0, "threads", "must be ≥ 0 (0: all cores), was " + threads);
        check(errors, peerTimeoutSeconds >= 1, "peerTimeoutSeconds", "must be ≥ 1, was " + peerTimeoutSeconds);
        check(errors, rendezvousTimeoutSeconds >= 1, "rendezvousTimeoutSeconds",
                "must be ≥ 1, was " + rendezvousTimeoutSeconds);
        check(errors, debugDivergeAtStep >= -1, "debugDivergeAtStep", "must be ≥ -1 (-1: off), was " + debugDivergeAtStep);
        check(errors, debugDivergeLrFactor > 0, "debugDivergeLrFactor", "must be > 0, was " + debugDivergeLrFactor);
        check(errors, debugHangAtStep >= -1, "debugHangAtStep", "must be ≥ -1 (-1: off), was " + debugHangAtStep);
    }

    private static boolean check(List<String> errors, boolean ok, String key, String message) {
        if (!ok) {
            errors.add(key + ": " + message);
        }
        return ok;
    }

    static Precision precisionOf(String s) {
        for (Precision p : Precision.values()) {
            if (p.label.equalsIgnoreCase(s)) {
                return p;
            }
        }
        throw new IllegalArgumentException("must be fp32 or fp16-emulated");
    }

    static Sharding shardingOf(String s) {
        for (Sharding m : Sharding.values()) {
            if (m.label.equalsIgnoreCase(s)) {
                return m;
            }
        }
        throw new IllegalArgumentException("must be zero1 or fsdp");
    }

    static String optimizerOf(String s) {
        String o = s.toLowerCase(Locale.ROOT);
        if (!o.equals("adamw") && !o.equals("sgd")) {
            throw new IllegalArgumentException("must be adamw or sgd");
        }
        return o;
    }

    /** Parses values, collecting one message per bad key instead of stopping at the first. */
    private record Parser(Map<String, String> values, List<String> errors) {
        int integer(String key) {
            return parse(key, Integer::parseInt, 0);
        }

        long longInt(String key) {
            return parse(key, s -> {
                // accept 375e6-style numbers for token counts when they are whole
                if (s.matches("[-+]?\\d+")) return Long.parseLong(s);
                double d = Double.parseDouble(s);
                if (d != Math.rint(d) || Math.abs(d) > 9e18) throw new NumberFormatException();
                return (long) d;
            }, 0L);
        }

        double real(String key) {
            return parse(key, Double::parseDouble, 0.0);
        }

        <T> T parse(String key, Function<String, T> f) {
            return parse(key, f, null);
        }

        private <T> T parse(String key, Function<String, T> f, T fallback) {
            String v = values.get(key);
            try {
                return f.apply(v);
            } catch (NumberFormatException e) {
                errors.add(key + ": not a valid number: '" + v + "'");
            } catch (RuntimeException e) {
                errors.add(key + ": " + e.getMessage() + ", was '" + v + "'");
            }
            return fallback;
        }
    }
}
