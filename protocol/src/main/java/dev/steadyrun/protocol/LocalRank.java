package dev.steadyrun.protocol;

import java.util.ArrayList;
import java.util.List;

/**
 * One of the ranks a node runs for its assignment. A node's ranks are consecutive global ranks (the ring is ordered by
 * global rank, so each node's ranks are neighbours in it and only {@code nodes} of its links cross the network).
 *
 * @param localRank          0 to ranksPerNode - 1 on this node
 * @param globalRank         the rank in the run's world
 * @param cudaVisibleDevices what the rank's {@code CUDA_VISIBLE_DEVICES} holds (its one GPU's index); null on a node
 *                           without GPUs, where the agent splits the CPU threads between the node's ranks instead
 */
public record LocalRank(int localRank, int globalRank, String cudaVisibleDevices) {

    /**
     * The ranks of the node that holds seat {@code firstRank} (a multiple of {@code ranksPerNode}): local rank l is
     * global rank {@code firstRank + l} and sees GPU {@code gpuIndices[l]} alone; no GPUs: CPU ranks.
     */
    public static List<LocalRank> of(int firstRank, int ranksPerNode, List<Integer> gpuIndices) {
        if (ranksPerNode < 1) {
            throw new IllegalArgumentException("ranksPerNode must be >= 1, was " + ranksPerNode);
        }
        List<LocalRank> out = new ArrayList<>(ranksPerNode);
        for (int l = 0; l < ranksPerNode; l++) {
            String devices = gpuIndices == null || l >= gpuIndices.size() ? null : Integer.toString(gpuIndices.get(l));
            out.add(new LocalRank(l, firstRank + l, devices));
        }
        return List.copyOf(out);
    }
}
