package dev.steadyrun.trainer.checkpoint;

import java.nio.file.Path;

/**
 * A checkpoint that cannot be read here: its manifest or a file it lists is missing, or reading failed. Not proof of
 * corruption (a shared-filesystem blip, a node that does not see the store): the trainer exits 7, not 3, and the
 * orchestrator tries it on another node before giving it up.
 */
public final class CheckpointUnavailableException extends CorruptCheckpointException {

    public CheckpointUnavailableException(Path checkpoint, String file, String problem) {
        super("unavailable checkpoint ", checkpoint, file, problem);
    }
}
