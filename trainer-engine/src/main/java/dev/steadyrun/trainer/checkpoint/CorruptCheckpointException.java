package dev.steadyrun.trainer.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint that fails verification; the message names the checkpoint and the bad file. Its subclass
 * {@link CheckpointUnavailableException} is the failure that does not prove corruption (something missing).
 */
public class CorruptCheckpointException extends IOException {

    private final transient Path checkpoint;
    private final String file;

    public CorruptCheckpointException(Path checkpoint, String file, String problem) {
        this("corrupt checkpoint ", checkpoint, file, problem);
    }

    CorruptCheckpointException(String what, Path checkpoint, String file, String problem) {
        super(what + checkpoint + ": " + file + ": " + problem);
        this.checkpoint = checkpoint;
        this.file = file;
    }

    public Path checkpoint() {
        return checkpoint;
    }

    /** The file inside the checkpoint directory that failed (e.g. {@code manifest.json}). */
    public String file() {
        return file;
    }
}
