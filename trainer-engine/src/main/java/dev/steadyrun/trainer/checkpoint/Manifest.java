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
 * @param format version of this layout ({@link #FORMAT})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record Manifest(int format, long step, List<Entry> files, Integer worldSize, List<Tensor> tensors) {

    static final int FORMAT_SINGLE = 1;
    static final int FORMAT = 2;
    static final String FILE = CheckpointPaths.MANIFEST;
    static final String STATE_FILE = CheckpointPaths.STATE;

    Manifest(int format, long step, List<Entry> files) {
        this(format, step, files, null, null);
    }

    /** One tensor of the flat parameter vector, in order: its elements follow the previous tensor's. */
    record Tensor(String name, long[] shape) {
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
