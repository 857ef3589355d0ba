package dev.steadyrun.orchestrator.checkpoint;

import java.time.Instant;

/**
 * A checkpoint a run reported; {@code healthy} follows OPT's rule, loss scale ≥ 1.0; {@code corrupt}: a restore
 * from it failed a checksum; {@code abandoned}: a rollback went back past it (it belongs to a discarded trajectory);
 * {@code removed}: the trainer's retention deleted it; {@code unavailable}: restores on several nodes could not read
 * it. None of those four is ever a restore point.
 */
public record CheckpointResponse(long step, long generation, String path, long tokensSeen, double lossScale,
                                 double loss, String manifestSha256, long bytes, boolean healthy,
                                 Instant reportedAt, boolean corrupt, boolean abandoned,
                                 boolean removed, boolean unavailable) {
}
