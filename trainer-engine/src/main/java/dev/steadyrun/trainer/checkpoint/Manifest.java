package dev.steadyrun.trainer.checkpoint;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * manifest.json: written last, so its presence marks a checkpoint whose other files were all synced.
 *
 * <p>Format 1 (single writer): one array file per tensor, named {@code param/NAME}, {@code adam_m/NAME},
 * {@code adam_v/NAME}. Format 2 (sharded, {@link CheckpointPaths}): every rank wrote its contiguous ranges of the
 * flat parameter vector and of the two Adam moments, one file per range ({@code array} is the kind, {@code from}
 * the range's first element in the flat vector, {@code rank} its writer); {@code tensors} gives the flat vector's
 * layout and {@code worldSize} the number of ranks whose shards are listed.
 *
 * <p>Tensor parallelism ({@code tensorParallel} T &gt; 1, absent: 1): each of the T members holds a slice of the
 * split tensors, and the flat vector of each kind is the T members' flat vectors end to end (member t's from
 * t·L, L the sum of the slice shapes in {@code tensors}). A tensor's {@code splitAxis} says along which axis its
 * slices join into the whole tensor (absent: every member holds it whole, and member 0's copy is the tensor), so a
 * reader rebuilds the whole model, and a restore re-cuts it for any other split, from the manifest alone.
 *
 * @param format version of this layout ({@link #FORMAT})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record Manifest(int format, long step, List<Entry> files, Integer worldSize, List<Tensor> tensors,
                Integer tensorParallel) {

    static final int FORMAT_SINGLE = 1;
    static final int FORMAT = 2;
    static final String FILE = CheckpointPaths.MANIFEST;
    static final String STATE_FILE = CheckpointPaths.STATE;

    Manifest(int format, long step, List<Entry> files) {
        this(format, step, files, null, null, null);
    }

    /**
     * One tensor of the flat parameter vector, in order: its elements follow the previous tensor's; {@code shape} is
     * one member's slice under tensor parallelism.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Tensor(String name, long[] shape, Integer splitAxis) {
    }

    /**
     * One file of the checkpoint. {@code array}, {@code dtype} and {@code shape} are set for array files only;
     * {@code rank} and {@code from} for the shard files of format 2 only.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Entry(String name, long bytes, String sha256, String array, String dtype, long[] shape, Integer rank,
                 Long from) {

        Entry(String name, long bytes, String sha256, String array, String dtype, long[] shape) {
            this(name, bytes, sha256, array, dtype, shape, null, null);
        }

        boolean isArray() {
            return array != null;
        }
    }
}
