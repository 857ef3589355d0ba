package dev.steadyrun.orchestrator.run;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.steadyrun.protocol.ProgramRef;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;

/**
 * Checks a submitted run specification and fills in the defaults of its model size. Pure: no database, no
 * fleet; whether the fleet is large enough is the run service's question. Reports every bad field at once.
 */
public class RunSpecResolver {

    public static final Set<String> PRECISIONS = Set.of("fp32", "fp16-emulated");
    public static final Set<String> SAMPLES = Set.of("europarl");
    static final int MAX_NAME = 200;
    static final int DEFAULT_SEQ_LEN = 2048;
    // Upper bounds, far above OPT-175B (96 layers, 96 heads, dModel 12288, 2048 tokens, 50272 rows), so that no
    // size arithmetic here or in the trainer overflows and no spec asks a trainer for more than any node holds.
    static final int MAX_NODES = 100_000;
    /** Far above the 8 GPUs of an OPT-175B host; a node's trainers are its own processes. */
    static final int MAX_RANKS_PER_NODE = 64;
    static final int MAX_LAYERS = 1024;
    static final int MAX_HEADS = 1024;
    static final int MAX_D_MODEL = 65_536;
    static final int MAX_SEQ_LEN = 131_072;
    static final int MAX_VOCAB = 1_048_576;
    static final double MAX_LR = 1.0;
    static final int MAX_SELECTOR = 20;
    static final int MAX_LABEL_KEY = 63;
    static final int MAX_LABEL_VALUE = 253;
    /** Linux's PATH_MAX. */
    static final int MAX_PATH = 4096;
    /** Room left under the checkpoint column's 4000 characters for {@code /<run id>/step-<step>}. */
    static final int MAX_CHECKPOINT_LOCATION = 3900;
    static final long PAPER_CHECKPOINT_INTERVAL = 1000;
    static final long SMALL_CHECKPOINT_INTERVAL = 100;

    private final String checkpointRoot;

    /** @param checkpointRoot where runs keep their checkpoints unless the spec names a location */
    public RunSpecResolver(String checkpointRoot) {
        this.checkpointRoot = checkpointRoot;
    }

    public RunSpec resolve(RunSpecRequest request) {
        List<InvalidRunSpecException.FieldError> errors = new ArrayList<>();
        Checker check = (ok, field, message) -> {
            if (!ok) {
                errors.add(new InvalidRunSpecException.FieldError(field, message));
            }
            return ok;
        };
        if (request == null) {
            throw new InvalidRunSpecException(List.of(new InvalidRunSpecException.FieldError("(body)", "a run spec is required")));
        }
        if (request.name() != null) {
            if (check.that(!request.name().isBlank() && request.name().length() <= MAX_NAME, "name",
                    "must be 1 to " + MAX_NAME + " characters")) {
                // a name is shown in logs, events and chat messages: one line, no control characters
                check.that(request.name().chars().noneMatch(Character::isISOControl), "name",
                        "must not contain control characters (line breaks, tabs, NUL)");
            }
        }

        Integer worldSize = request.worldSize();
        check.that(worldSize != null, "worldSize", "is required");
        if (worldSize != null && !check.that(worldSize > 0 && worldSize <= MAX_NODES, "worldSize",
                "must be 1 to " + MAX_NODES + ", was " + worldSize)) {
            worldSize = null;
        }
        int gpusPerNode = request.gpusPerNode() == null ? 0 : request.gpusPerNode();
        if (!check.that(gpusPerNode >= 0 && gpusPerNode <= MAX_RANKS_PER_NODE, "gpusPerNode",
                "must be 0 to " + MAX_RANKS_PER_NODE + ", was " + gpusPerNode)) {
            gpusPerNode = 0;
        }
        int ranksPerNode = request.ranksPerNode() != null ? request.ranksPerNode() : Math.max(1, gpusPerNode);
        if (check.that(ranksPerNode >= 1 && ranksPerNode <= MAX_RANKS_PER_NODE, "ranksPerNode",
                "must be 1 to " + MAX_RANKS_PER_NODE + ", was " + ranksPerNode)) {
            check.that(gpusPerNode == 0 || ranksPerNode == gpusPerNode, "ranksPerNode",
                    "must equal gpusPerNode (" + gpusPerNode + "): one rank per GPU, was " + ranksPerNode);
            if (worldSize != null && !check.that(worldSize % ranksPerNode == 0, "worldSize",
                    "must fill whole nodes: a multiple of ranksPerNode (" + ranksPerNode + "), was " + worldSize)) {
                worldSize = null;
            }
        } else {
            ranksPerNode = 1;
        }
        // Megatron-LM's tensor groups talk in every layer: they stay inside a node whenever a node holds several
        // ranks (ranks are numbered node by node, so a group is adjacent ranks); one-rank CPU nodes group neighbours
        int tensorParallel = request.tensorParallel() == null ? 1 : request.tensorParallel();
        if (check.that(tensorParallel >= 1 && tensorParallel <= MAX_RANKS_PER_NODE, "tensorParallel",
                "must be 1 to " + MAX_RANKS_PER_NODE + ", was " + tensorParallel)) {
            if (worldSize != null) {
                check.that(worldSize % tensorParallel == 0, "tensorParallel",
                        "must divide worldSize (" + worldSize + "), was " + tensorParallel);
            }
            if (ranksPerNode > 1 || gpusPerNode > 0) {
                check.that(ranksPerNode % tensorParallel == 0, "tensorParallel", "must divide ranksPerNode ("
                        + ranksPerNode + "): a tensor-parallel group stays inside one node, was " + tensorParallel);
            }
        } else {
            tensorParallel = 1;
        }
        int spares = request.spares() == null ? 0 : request.spares();
        check.that(spares >= 0 && spares <= MAX_NODES, "spares", "must be 0 to " + MAX_NODES + ", was " + spares);

        ModelPreset preset = null;
        RunSpec.Model model = null;
        RunSpecRequest.Model m = request.model();
        if (check.that(m != null, "model", "is required: a size (" + ModelPreset.labels()
                + ") or layers, heads and dModel")) {
            boolean explicit = m.layers() != null || m.heads() != null || m.dModel() != null;
            if (m.size() != null) {
                preset = ModelPreset.byLabel(m.size()).orElse(null);
                check.that(preset != null, "model.size", "unknown size '" + m.size() + "'; known: " + ModelPreset.labels());
                check.that(!explicit, "model", "give either size or layers/heads/dModel, not both");
            } else if (check.that(explicit, "model", "give a size (" + ModelPreset.labels()
                    + ") or layers, heads and dModel")) {
                boolean dims = within(m.layers(), 1, MAX_LAYERS, "model.layers", check)
                        & within(m.heads(), 1, MAX_HEADS, "model.heads", check)
                        & within(m.dModel(), 1, MAX_D_MODEL, "model.dModel", check);
                if (dims && check.that(m.dModel() % m.heads() == 0, "model.dModel",
                        "must be divisible by heads (" + m.heads() + "), was " + m.dModel())) {
                    preset = ModelPreset.closestTo(m.dModel());
                }
            }
            boolean seqLenOk = m.seqLen() == null || within(m.seqLen(), 1, MAX_SEQ_LEN, "model.seqLen", check);
            boolean vocabOk = m.vocab() == null || within(m.vocab(), 2, MAX_VOCAB, "model.vocab", check);
            if (preset != null && seqLenOk && vocabOk) {
                boolean named = m.size() != null;
                model = new RunSpec.Model(named ? preset.label() : RunSpec.Model.CUSTOM,
                        named ? preset.layers() : m.layers(), named ? preset.heads() : m.heads(),
                        named ? preset.dModel() : m.dModel(),
                        m.seqLen() != null ? m.seqLen() : named ? preset.seqLen() : DEFAULT_SEQ_LEN,
                        m.vocab() != null ? m.vocab() : ModelPreset.OPT_VOCAB);
            }
        }

        RunSpec.Data data = null;
        RunSpecRequest.Data d = request.data();
        if (check.that(d != null, "data", "is required: a path to token shards or a sample (" + SAMPLES + ")")
                && check.that((d.path() == null) != (d.sample() == null), "data",
                "give exactly one of path and sample")) {
            if (d.path() != null && path(d.path(), MAX_PATH, "data.path", check)) {
                data = new RunSpec.Data(d.path(), null);
            }
            if (d.sample() != null && check.that(SAMPLES.contains(d.sample()), "data.sample",
                    "unknown sample '" + d.sample() + "'; known: " + SAMPLES)) {
                data = new RunSpec.Data(null, d.sample());
            }
        }

        long checkpointInterval = request.checkpointInterval() != null ? request.checkpointInterval()
                : preset != null && !preset.fromPaper() ? SMALL_CHECKPOINT_INTERVAL : PAPER_CHECKPOINT_INTERVAL;
        check.that(checkpointInterval > 0, "checkpointInterval", "must be a positive number of steps");
        String checkpointLocation = request.checkpointLocation() != null ? request.checkpointLocation() : checkpointRoot;
        path(checkpointLocation, MAX_CHECKPOINT_LOCATION, "checkpointLocation", check);

        JsonNode policy = request.recoveryPolicy() == null || request.recoveryPolicy().isNull()
                ? JsonNodeFactory.instance.objectNode() : request.recoveryPolicy();
        check.that(policy.isObject(), "recoveryPolicy", "must be a JSON object");

        Map<String, String> selector = request.nodeSelector() == null ? Map.of() : request.nodeSelector();
        if (check.that(selector.size() <= MAX_SELECTOR, "nodeSelector",
                "may hold at most " + MAX_SELECTOR + " labels, had " + selector.size())) {
            selector.forEach((key, value) -> check.that(key != null && !key.isBlank() && key.length() <= MAX_LABEL_KEY
                            && value != null && !value.isBlank() && value.length() <= MAX_LABEL_VALUE
                            && (key + value).chars().noneMatch(Character::isISOControl), "nodeSelector." + key,
                    "labels are 1 to " + MAX_LABEL_KEY + " characters, their values 1 to " + MAX_LABEL_VALUE
                            + ", without control characters"));
        }

        ProgramRef program = ProgramRef.BUILT_IN;
        RunSpecRequest.Program p = request.program();
        if (p != null) {
            boolean named = check.that(p.name() != null && ProgramRef.NAME.matcher(p.name()).matches(),
                    "program.name", "is required: 1-63 lower-case letters, digits, '.', '_' or '-'");
            boolean versioned = check.that(p.version() != null && ProgramRef.VERSION.matcher(p.version()).matches(),
                    "program.version", "is required: 1-64 letters, digits, '.', '_', '+' or '-'");
            if (named && versioned) {
                program = new ProgramRef(p.name(), p.version());
            }
        }

        if (model != null && tensorParallel > 1) {
            check.that(model.heads() % tensorParallel == 0, "tensorParallel", "must divide model.heads ("
                    + model.heads() + "): each rank of a group takes whole heads, was " + tensorParallel);
            check.that(model.vocab() % tensorParallel == 0, "tensorParallel", "must divide model.vocab ("
                    + model.vocab() + "): each rank of a group takes as many embedding rows, was " + tensorParallel);
        }

        RunSpec.Hyper hyper = null;
        if (model != null && worldSize != null && worldSize > 0 && worldSize % tensorParallel == 0) {
            hyper = hyper(preset, model, worldSize / tensorParallel, request.hyper(), check);
        }

        if (!errors.isEmpty()) {
            throw new InvalidRunSpecException(errors);
        }
        return new RunSpec(request.name(), model, data, hyper, worldSize, spares, checkpointInterval,
                checkpointLocation, policy, Map.copyOf(selector), program, ranksPerNode, gpusPerNode, tensorParallel);
    }

    /** @param dataParallel the ranks that split each step's batch (the world over the tensor-parallel size) */
    private static RunSpec.Hyper hyper(ModelPreset preset, RunSpec.Model model, int dataParallel,
                                       RunSpecRequest.Hyper given, Checker check) {
        RunSpecRequest.Hyper h = given != null ? given
                : new RunSpecRequest.Hyper(null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, null);
        double lr = or(h.lr(), preset.peakLr());
        check.that(lr > 0 && lr <= MAX_LR, "hyper.lr", "must be above 0 and at most " + MAX_LR);
        long batchTokens = or(h.batchTokens(), preset.batchTokens());
        long perStep = (long) model.seqLen() * dataParallel;
        boolean batchOk = check.that(batchTokens > 0 && batchTokens % perStep == 0, "hyper.batchTokens",
                "must split into whole sequences on every rank: a positive multiple of seqLen × worldSize"
                        + " / tensorParallel (" + perStep + "), was " + batchTokens);
        long sequencesPerRank = batchOk ? batchTokens / perStep : 1;
        int microBatch = h.microBatch() != null ? h.microBatch() : (int) gcd(sequencesPerRank, preset.microBatch());
        if (check.that(microBatch > 0, "hyper.microBatch", "must be a positive number of sequences") && batchOk) {
            check.that(sequencesPerRank % microBatch == 0, "hyper.microBatch",
                    "must divide the " + sequencesPerRank + " sequences each rank takes per step, was " + microBatch);
        }
        double beta1 = or(h.beta1(), 0.9);
        check.that(beta1 >= 0 && beta1 < 1, "hyper.beta1", "must be in [0, 1)");
        double beta2 = or(h.beta2(), 0.95);
        check.that(beta2 >= 0 && beta2 < 1, "hyper.beta2", "must be in [0, 1)");
        double weightDecay = or(h.weightDecay(), 0.1);
        check.that(finite(weightDecay) && weightDecay >= 0, "hyper.weightDecay", "must be 0 or more");
        double clipNorm = or(h.clipNorm(), 1.0);
        check.that(finite(clipNorm) && clipNorm > 0, "hyper.clipNorm", "must be a positive number");
        long warmupSteps = or(h.warmupSteps(), preset.warmupSteps());
        check.that(warmupSteps >= 0, "hyper.warmupSteps", "must be 0 or more");
        long warmupTokens = or(h.warmupTokens(), preset.warmupTokens());
        check.that(warmupTokens >= 0, "hyper.warmupTokens", "must be 0 or more");
        long decayTokens = or(h.decayTokens(), preset.decayTokens());
        if (check.that(decayTokens > 0, "hyper.decayTokens", "must be positive") && warmupSteps == 0) {
            check.that(warmupTokens < decayTokens, "hyper.warmupTokens",
                    "must end before decayTokens (" + decayTokens + ") when warm-up is in tokens");
        }
        long maxSteps = h.maxSteps() != null ? h.maxSteps()
                : batchOk && decayTokens > 0 ? (decayTokens + batchTokens - 1) / batchTokens : 1;
        check.that(maxSteps > 0, "hyper.maxSteps", "must be a positive number of steps");
        double finalLrRatio = or(h.finalLrRatio(), 0.1);
        check.that(finalLrRatio >= 0 && finalLrRatio <= 1, "hyper.finalLrRatio", "must be in [0, 1]");
        double dropout = or(h.dropout(), 0.1);
        check.that(dropout >= 0 && dropout < 1, "hyper.dropout", "must be in [0, 1)");
        double scaleInit = or(h.lossScaleInit(), 4.0);
        check.that(finite(scaleInit) && scaleInit > 0, "hyper.lossScaleInit", "must be a positive number");
        double scaleFactor = or(h.lossScaleFactor(), 2.0);
        check.that(finite(scaleFactor) && scaleFactor > 1, "hyper.lossScaleFactor", "must be greater than 1");
        int scaleWindow = or(h.lossScaleWindow(), 256);
        check.that(scaleWindow > 0, "hyper.lossScaleWindow", "must be a positive number of steps");
        double scaleMin = or(h.lossScaleMin(), Math.pow(2, -5));
        check.that(finite(scaleMin) && scaleMin > 0 && scaleMin <= scaleInit, "hyper.lossScaleMin",
                "must be positive and at most lossScaleInit");
        String precision = or(h.precision(), preset.precision());
        check.that(PRECISIONS.contains(precision), "hyper.precision", "must be one of " + PRECISIONS);
        long seed = or(h.seed(), 1L);
        return new RunSpec.Hyper(lr, batchTokens, microBatch, beta1, beta2, weightDecay, clipNorm, warmupSteps,
                warmupTokens, decayTokens, finalLrRatio, dropout, scaleInit, scaleFactor, scaleWindow, scaleMin,
                precision, seed, maxSteps);
    }

    @FunctionalInterface
    private interface Checker {
        boolean that(boolean ok, String field, String message);
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static boolean within(Integer value, int min, int max, String field, Checker check) {
        return check.that(value != null && value >= min && value <= max, field,
                "must be an integer from " + min + " to " + max + (value == null ? "" : ", was " + value));
    }

    /**
     * A data or checkpoint path as every agent will resolve it: absolute (a shared mount, where operators keep
     * checkpoints) or relative to the agent's root, never climbing out of it or anywhere else with {@code ..}.
     */
    private static boolean path(String path, int max, String field, Checker check) {
        return check.that(!path.isBlank() && path.length() <= max, field, "must be 1 to " + max + " characters")
                && check.that(path.chars().noneMatch(Character::isISOControl), field,
                "must not contain control characters (NUL, line breaks)")
                && check.that(Arrays.stream(path.split("/")).noneMatch(".."::equals), field,
                "must not contain '..' segments: give an absolute path or one below the agent's root");
    }

    private static boolean finite(double value) {
        return Double.isFinite(value);
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }
}
