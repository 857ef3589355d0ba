package dev.steadyrun.orchestrator.run;

import java.util.Map;

import tools.jackson.databind.JsonNode;

/**
 * The body of {@code POST /api/v1/runs}. Everything but {@code model}, {@code data} and {@code worldSize} is
 * optional; {@link RunSpecResolver} checks it and fills the OPT defaults.
 *
 * @param recoveryPolicy a JSON object stored as given (the recovery issue defines its fields)
 * @param nodeSelector   node labels the run's nodes must all carry (e.g. {@code zone}); none by default
 * @param program        the registered program to train; the built-in OPT trainer by default
 * @param worldSize      ranks in all (a multiple of {@code ranksPerNode})
 * @param spares         spare nodes, whole nodes
 * @param ranksPerNode   ranks (trainers) per node; {@code gpusPerNode} by default, else 1
 * @param gpusPerNode    GPUs each node must have, one rank on each; none by default (CPU nodes run CPU ranks)
 * @param tensorParallel ranks per tensor-parallel group (Megatron-LM), 1 by default: adjacent ranks, inside one node
 */
public record RunSpecRequest(String name, Model model, Data data, Hyper hyper, Integer worldSize, Integer spares,
                             Long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                             Map<String, String> nodeSelector, Program program, Integer ranksPerNode,
                             Integer gpusPerNode, Integer tensorParallel) {

    /** A request without tensor parallelism. */
    public RunSpecRequest(String name, Model model, Data data, Hyper hyper, Integer worldSize, Integer spares,
                          Long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                          Map<String, String> nodeSelector, Program program, Integer ranksPerNode,
                          Integer gpusPerNode) {
        this(name, model, data, hyper, worldSize, spares, checkpointInterval, checkpointLocation, recoveryPolicy,
                nodeSelector, program, ranksPerNode, gpusPerNode, null);
    }

    /** A request of one rank per node. */
    public RunSpecRequest(String name, Model model, Data data, Hyper hyper, Integer worldSize, Integer spares,
                          Long checkpointInterval, String checkpointLocation, JsonNode recoveryPolicy,
                          Map<String, String> nodeSelector, Program program) {
        this(name, model, data, hyper, worldSize, spares, checkpointInterval, checkpointLocation, recoveryPolicy,
                nodeSelector, program, null, null, null);
    }

    /** A program by name and version, both required, as an admin registered it. */
    public record Program(String name, String version) {
    }

    /** Either a named {@code size} or explicit {@code layers}, {@code heads}, {@code dModel}. */
    public record Model(String size, Integer layers, Integer heads, Integer dModel, Integer seqLen, Integer vocab) {
    }

    /** Either {@code path} to prepared token shards or a built-in {@code sample} ({@code europarl}). */
    public record Data(String path, String sample) {
    }

    /** Overrides of the OPT hyper-parameters; null keeps the default of the model size. */
    public record Hyper(Double lr, Long batchTokens, Integer microBatch, Double beta1, Double beta2,
                        Double weightDecay, Double clipNorm, Long warmupSteps, Long warmupTokens, Long decayTokens,
                        Double finalLrRatio, Double dropout, Double lossScaleInit, Double lossScaleFactor,
                        Integer lossScaleWindow, Double lossScaleMin, String precision, Long seed, Long maxSteps) {
    }
}
