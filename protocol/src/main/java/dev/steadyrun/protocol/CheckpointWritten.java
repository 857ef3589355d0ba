package dev.steadyrun.protocol;

import java.util.List;

/**
 * A restore point, printed by the trainer as one JSON line ({@code "type":"checkpoint"}): a durable checkpoint that
 * is complete on disk (after the atomic rename; rank 0 reports it), or, with {@code kind} {@link #MEMORY}, a memory
 * snapshot that one rank holds in its node's memory (every rank reports its own).
 *
 * @param lossScale     the dynamic loss scale when it was written: OPT called a checkpoint healthy at ≥ 1.0
 * @param manifestSha256 SHA-256 of the checkpoint's manifest, which holds the sums of every file (a snapshot's
 *                      manifest is the same on every rank that holds it)
 * @param removedSteps  older checkpoints the trainer's retention deleted after this one was written: the
 *                      orchestrator must never choose them as a restore point (for a snapshot: this node's)
 * @param kind          {@link #DURABLE} (also when absent: older trainers) or {@link #MEMORY}
 * @param rank          a snapshot's reporting rank; null for a durable checkpoint
 * @param heldRanks     a snapshot's ranks whose shards this rank's node holds: its own and its ring predecessor's
 * @param shardSha256   a snapshot's digest of this rank's own shard (SHA-256 over its files' names and sums)
 * @param replicaSha256 the same digest of the predecessor's shard this rank holds as a replica; null for one rank
 */
public record CheckpointWritten(String type, long step, long tokensSeen, String path, double lossScale, double loss,
                                String manifestSha256, long bytes, List<Long> removedSteps, String kind,
                                Integer rank, List<Integer> heldRanks, String shardSha256, String replicaSha256)
        implements TrainerLine {

    public static final String TYPE = "checkpoint";
    public static final String DURABLE = "durable";
    public static final String MEMORY = "memory";

    public CheckpointWritten {
        removedSteps = removedSteps == null ? List.of() : List.copyOf(removedSteps); // absent from older trainers
        kind = kind == null ? DURABLE : kind;
        heldRanks = heldRanks == null ? List.of() : List.copyOf(heldRanks);
    }

    public CheckpointWritten(long step, long tokensSeen, String path, double lossScale, double loss,
                             String manifestSha256, long bytes, List<Long> removedSteps) {
        this(TYPE, step, tokensSeen, path, lossScale, loss, manifestSha256, bytes, removedSteps, DURABLE, null, null,
                null, null);
    }

    public CheckpointWritten(long step, long tokensSeen, String path, double lossScale, double loss,
                             String manifestSha256, long bytes) {
        this(step, tokensSeen, path, lossScale, loss, manifestSha256, bytes, List.of());
    }

    /** A memory snapshot held by {@code rank}'s node. */
    public static CheckpointWritten memory(long step, long tokensSeen, String path, double lossScale, double loss,
                                           String manifestSha256, long bytes, List<Long> removedSteps, int rank,
                                           List<Integer> heldRanks, String shardSha256, String replicaSha256) {
        return new CheckpointWritten(TYPE, step, tokensSeen, path, lossScale, loss, manifestSha256, bytes,
                removedSteps, MEMORY, rank, heldRanks, shardSha256, replicaSha256);
    }

    public boolean inMemory() {
        return MEMORY.equals(kind);
    }
}
