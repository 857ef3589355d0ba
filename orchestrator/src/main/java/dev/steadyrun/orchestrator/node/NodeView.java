package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.steadyrun.protocol.GpuInfo;

/**
 * A node as the API and other features see it. {@code lastSeenAt} is the in-memory value (fresher than the
 * row, which is written in batches).
 */
public record NodeView(UUID id, String name, String hostname, String agentVersion, NodeState state,
                       String stateReason, Instant stateChangedAt, Map<String, String> labels, List<GpuInfo> gpus,
                       Instant registeredAt, Instant lastSeenAt) {
}
