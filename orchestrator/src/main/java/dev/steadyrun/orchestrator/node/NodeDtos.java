package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import jakarta.validation.constraints.Size;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.TrainerStatus;

/** The node API's records. */
final class NodeDtos {

    private NodeDtos() {
    }

    /** A node with its latest heartbeat content. */
    record Detail(NodeView node, long lastSequence, List<GpuHealth> gpuHealth, TrainerStatus trainer) {
    }

    record Page<T>(List<T> items, int page, int size, long total) {
    }

    record Event(long id, Instant at, NodeState from, NodeState to, String reason, String actor) {
        static Event of(NodeEvent e) {
            return new Event(e.getId(), e.getAt(), e.getFromState(), e.getToState(), e.getReason(), e.getActor());
        }
    }

    /** A re-keyed node's new credential, shown once: give it to the node's agent (its credential file). */
    record Credential(UUID nodeId, String nodeCredential) {
        @Override
        public String toString() {
            return "Credential[nodeId=" + nodeId + ", nodeCredential=<redacted>]";
        }
    }

    /** Body of cordon/uncordon/drain; optional. */
    record Action(@Size(max = 500) String reason) {
    }

    record Incident(long id, Instant openedAt, Instant closedAt, int fleetSize, int silentNodes, String reason) {
        static Incident of(FleetIncident i) {
            return new Incident(i.getId(), i.getOpenedAt(), i.getClosedAt(), i.getFleetSize(), i.getSilentNodes(),
                    i.getReason());
        }
    }
}
