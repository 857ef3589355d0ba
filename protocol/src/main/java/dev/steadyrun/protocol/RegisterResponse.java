package dev.steadyrun.protocol;

import java.util.UUID;

/**
 * The node's identity. {@code nodeCredential} is shown only here: the agent sends it as
 * {@code Authorization: Bearer <credential>} on every later call; the orchestrator keeps only its hash.
 */
public record RegisterResponse(UUID nodeId, String nodeCredential, LeaseTimings timings) {
}
