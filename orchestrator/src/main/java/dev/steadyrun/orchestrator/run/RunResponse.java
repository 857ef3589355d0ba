package dev.steadyrun.orchestrator.run;

import java.time.Instant;
import java.util.UUID;

/**
 * A run as the API shows it.
 *
 * @param restarts      generations started by recovery (automatic or manual restarts), not by pause/resume
 * @param goodput       productive training time ÷ wall time since the first placement ({@link RunTelemetry#goodput})
 * @param openIncidents incidents not yet recovered (recovering, or waiting for a human)
 */
public record RunResponse(UUID id, String name, RunState state, String stateReason, Instant stateChangedAt,
                          long generation, int worldSize, int spares, Long lastStep, Double lastLoss,
                          long tokensSeen, Instant createdAt, String createdBy, RunSpec spec, int restarts,
                          Double goodput, int openIncidents) {
}
