package dev.steadyrun.protocol;

import java.util.UUID;

/**
 * The node's identity. {@code nodeCredential} is issued at the node's first registration (or by an admin's
 * re-key) and shown only then and to the agent that proves it on a later registration: the agent keeps it (on
 * disk) and sends it as {@code Authorization: Bearer <credential>} on every later call; the orchestrator keeps only
 * its hash.
 */
public record RegisterResponse(UUID nodeId, String nodeCredential, LeaseTimings timings) {

    /** Never prints the credential. */
    @Override
    public String toString() {
        return "RegisterResponse[nodeId=" + nodeId + ", nodeCredential=<redacted>, timings=" + timings + "]";
    }
}
