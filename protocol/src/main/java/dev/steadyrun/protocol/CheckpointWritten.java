package dev.steadyrun.protocol;

import java.util.List;

/**
 * A checkpoint that is complete on disk, printed by the trainer as one JSON line ({@code "type":"checkpoint"})
 * after the atomic rename.
 *
 * @param lossScale     the dynamic loss scale when it was written: OPT called a checkpoint healthy at ≥ 1.0
 * @param manifestSha256 SHA-256 of the checkpoint's manifest, which holds the sums of every file
 * @param removedSteps  older checkpoints the trainer's retention deleted after this one was written: the
 *                      orchestrator must never choose them as a restore point
 */
public record CheckpointWritten(String type, long step, long tokensSeen, String path, double lossScale, double loss,
                                String manifestSha256, long bytes, List<Long> removedSteps) implements TrainerLine {

    public static final String TYPE = "checkpoint";

    public CheckpointWritten {
        removedSteps = removedSteps == null ? List.of() : List.copyOf(removedSteps); // absent from older trainers
    }

    public CheckpointWritten(long step, long tokensSeen, String path, double lossScale, double loss,
                             String manifestSha256, long bytes, List<Long> removedSteps) {
        this(TYPE, step, tokensSeen, path, lossScale, loss, manifestSha256, bytes, removedSteps);
    }

    public CheckpointWritten(long step, long tokensSeen, String path, double lossScale, double loss,
                             String manifestSha256, long bytes) {
        this(step, tokensSeen, path, lossScale, loss, manifestSha256, bytes, List.of());
    }
}
