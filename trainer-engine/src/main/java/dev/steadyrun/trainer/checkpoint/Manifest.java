package dev.steadyrun.trainer.checkpoint;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * manifest.json: written last, so its presence marks a checkpoint whose other files were all synced.
 *
 * @param format version of this layout ({@link #FORMAT})
 */
record Manifest(int format, long step, List<Entry> files) {

    static final int FORMAT = 1;
    static final String FILE = "manifest.json";
    static final String STATE_FILE = "state.json";

    /**
     * One file of the checkpoint. {@code array}, {@code dtype} and {@code shape} are set for array files only.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Entry(String name, long bytes, String sha256, String array, String dtype, long[] shape) {

        boolean isArray() {
            return array != null;
        }
    }
}
