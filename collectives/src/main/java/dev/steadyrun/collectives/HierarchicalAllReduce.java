package dev.steadyrun.collectives;

import java.nio.ByteBuffer;

/**
 * All-reduce over two rings instead of one: {@code node}, the ranks of this rank's node in local-rank order, and
 * {@code cross}, the ranks with this rank's local rank on every node, in node order. The node ring reduce-scatters, so
 * local rank l holds node chunk l summed over its node; the cross ring all-reduces only that chunk; the node ring
 * all-gathers the chunks back.
 *
 * <p>Why: with M nodes of L ranks, the flat ring over all ML ranks takes 2(ML − 1) lock-step steps, and the one link
 * that leaves each node carries 2(ML − 1)/(ML) of the buffer. Here only the cross phase leaves the node: 2(M − 1)
 * steps, and 2(M − 1)/M of the buffer in all, split over L links (2 nodes × 2 ranks: 1 buffer instead of 1.5). The
 * intra-node phases add 2(L − 1)/L of the buffer on intra-node links, which on real clusters (shared memory, NVLink)
 * are much faster than the network; on one machine's loopback they are not, so measure before choosing.
 *
 * <p>Determinism: the node reduce-scatter and the cross all-reduce each sum in their ring's fixed order and both
 * gathers copy the owner's sum, so every rank holds the same bits (not the flat ring's bits: the order differs).
 *
 * <p>Both rings are the caller's, and stay open: this class holds no connections of its own. Not thread-safe, like
 * {@link Collectives}.
 */
public final class HierarchicalAllReduce {
    private final Collectives node;
    private final Collectives cross;

    public HierarchicalAllReduce(Collectives node, Collectives cross) {
        this.node = node;
        this.cross = cross;
    }

    /** Sums over every rank of every node, in place: a direct buffer of floats, as {@link Collectives} takes it. */
    public void allReduceSum(ByteBuffer floats) {
        node.reduceScatter(floats);
        Collectives.Chunk mine = node.chunk(floats.capacity() / Float.BYTES, node.rank());
        cross.allReduceSum(floats.slice(mine.from() * Float.BYTES, mine.length() * Float.BYTES));
        node.allGather(floats);
    }
}
