package dev.steadyrun.trainer.data;

/**
 * Where a {@link BatchSampler} stands: the next window to read is at token {@code offset} of shard {@code shard}
 * (an index into the split's shard list in the manifest), during pass {@code epoch} over the data. Saved in every
 * checkpoint; {@link BatchSampler#restore} continues from it exactly. All data-parallel ranks share one cursor.
 */
public record DataCursor(int shard, long offset, long epoch) {
}
