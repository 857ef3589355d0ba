package dev.steadyrun.orchestrator.run;

import java.util.Map;

import dev.steadyrun.protocol.ProgramRef;
import tools.jackson.databind.JsonNode;

/**
 * A run's specification after validation, every default filled in. Stored with the run as JSON and turned
 * into the trainer's configuration by {@link TrainerConfig}.
 *
 * @param worldSize    ranks, all nodes together
 * @param spares       spare nodes (whole nodes, whatever their ranks)
 * @param program      what the run trains; a spec stored before runs named programs reads as the built-in one
 * @param ranksPerNode ranks (trainers) on each node; a spec stored before nodes ran several reads as 1
 * @param gpusPerNode  GPUs each node must have, one per rank; 0 places on any node (CPU ranks where it has none)
 * @param tensorParallel ranks of one tensor-parallel group (adjacent ranks, inside one node when a node holds
 *                     several); a spec stored before tensor parallelism reads as 1
 */
public record RunSpec(String name, Model model, Data data, Hyper hyper, int worldSize, int spares,
                      long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                      Map<String, String> nodeSelector, ProgramRef program, int ranksPerNode, int gpusPerNode,
                      int tensorParallel) {

    public RunSpec {
        program = program == null ? ProgramRef.BUILT_IN : program;
        ranksPerNode = Math.max(1, ranksPerNode);
        tensorParallel = Math.max(1, tensorParallel);
    }

    /** A spec without tensor parallelism. */
    public RunSpec(String name, Model model, Data data, Hyper hyper, int worldSize, int spares,
                   long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                   Map<String, String> nodeSelector, ProgramRef program, int ranksPerNode, int gpusPerNode) {
        this(name, model, data, hyper, worldSize, spares, checkpointInterval, checkpointLocation, recoveryPolicy,
                nodeSelector, program, ranksPerNode, gpusPerNode, 1);
    }

    /** Ranks that split each step's batch: the world divided into tensor groups. */
    public int dataParallel() {
        return worldSize / tensorParallel;
    }

    /** A spec of one rank per node. */
    public RunSpec(String name, Model model, Data data, Hyper hyper, int worldSize, int spares,
                   long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                   Map<String, String> nodeSelector, ProgramRef program) {
        this(name, model, data, hyper, worldSize, spares, checkpointInterval, checkpointLocation, recoveryPolicy,
                nodeSelector, program, 1, 0, 1);
    }

    /** The nodes the run's ranks take (spares apart): whole nodes, {@code ranksPerNode} ranks each. */
    public int nodes() {
        return worldSize / ranksPerNode;
    }

    /** True when the node may hold a seat of this run: its labels match and it has the GPUs a node must have. */
    public boolean fits(Map<String, String> labels, int gpus) {
        return selects(labels) && gpus >= gpusPerNode;
    }

    /**
     * Where this run's checkpoints live: its own directory under the checkpoint location. A relative location is
     * resolved by each agent under its checkpoint root.
     */
    public String checkpointDir(java.util.UUID runId) {
        return (checkpointLocation.endsWith("/") ? checkpointLocation : checkpointLocation + "/") + runId;
    }

    /** True when the node's labels carry every label of the selector. */
    public boolean selects(Map<String, String> labels) {
        return nodeSelector.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
    }

    /** @param size the preset's label, or {@link #CUSTOM} for explicit dimensions */
    public record Model(String size, int layers, int heads, int dModel, int seqLen, int vocab) {

        public static final String CUSTOM = "custom";
    }

    /** Exactly one of the two is set. */
    public record Data(String path, String sample) {

        /** The value of the trainer's {@code data} key: a shard directory or a built-in sample's name. */
        public String trainerValue() {
            return path != null ? path : sample;
        }
    }

    /**
     * @param batchTokens tokens per optimizer step, all ranks together
     * @param warmupSteps warm-up in steps (OPT-175B); 0 means warm-up over {@code warmupTokens}
     * @param maxSteps    where the run ends; by default where the learning-rate decay ends
     */
    public record Hyper(double lr, long batchTokens, int microBatch, double beta1, double beta2, double weightDecay,
                        double clipNorm, long warmupSteps, long warmupTokens, long decayTokens, double finalLrRatio,
                        double dropout, double lossScaleInit, double lossScaleFactor, int lossScaleWindow,
                        double lossScaleMin, String precision, long seed, long maxSteps) {
    }
}
