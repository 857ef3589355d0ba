package dev.steadyrun.orchestrator.run;

import java.time.Instant;
import java.util.UUID;

/** A run as the API shows it. */
public record RunResponse(UUID id, String name, RunState state, String stateReason, Instant stateChangedAt,
                          long generation, int worldSize, int spares, Long lastStep, Double lastLoss,
                          long tokensSeen, Instant createdAt, String createdBy, RunSpec spec) {
}
