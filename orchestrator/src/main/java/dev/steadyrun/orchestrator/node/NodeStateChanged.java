package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.UUID;

/**
 * Published by {@link NodeRegistry} after every node state change, on the thread that made it: recovery hears
 * of a lost, failed or draining node that holds a rank.
 */
public record NodeStateChanged(UUID nodeId, NodeState from, NodeState to, String reason, Instant at) {
}
