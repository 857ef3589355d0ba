package dev.steadyrun.protocol;

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
    public static java.util.List<LocalRank> of(int firstRank, int ranksPerNode, java.util.List<Integer> gpuIndices) {
        if (ranksPerNode < 1) {
            throw new IllegalArgumentException("ranksPerNode must be >= 1, was " + ranksPerNode);
        }
        java.util.List<LocalRank> out = new java.util.ArrayList<>(ranksPerNode);
        for (int l = 0; l < ranksPerNode; l++) {
            String devices = gpuIndices == null || l >= gpuIndices.size() ? null : Integer.toString(gpuIndices.get(l));
            out.add(new LocalRank(l, firstRank + l, devices));
        }
        return java.util.List.copyOf(out);
    }

    /** The node seat (0, 1, ...) that global rank {@code rank} belongs to with {@code ranksPerNode} ranks a node. */
    public static int nodeOf(int rank, int ranksPerNode) {
        return rank / ranksPerNode;
    }
}
