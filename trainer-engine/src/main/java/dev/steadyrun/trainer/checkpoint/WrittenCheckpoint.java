package dev.steadyrun.trainer.checkpoint;

import java.nio.file.Path;
import java.util.List;

/**
 * A checkpoint that is complete on disk (renamed into place and the root directory synced).
 *
 * @param manifestSha256 SHA-256 of its manifest.json, which holds the sums of every other file
 * @param bytes          total size of its files, manifest included
 * @param removedSteps   older checkpoints retention deleted once this one was in place
 */
public record WrittenCheckpoint(Path path, long step, String manifestSha256, long bytes, List<Long> removedSteps) {
}
