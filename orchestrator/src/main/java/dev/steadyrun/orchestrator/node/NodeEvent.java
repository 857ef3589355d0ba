package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.UUID;

import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** One state change of a node, with why and by whom ({@code system} or {@code operator:<token name>}). */
@Entity
@Table(name = "node_event")
class NodeEvent {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;
    private UUID nodeId;
    private Instant at;
    @Enumerated(EnumType.STRING)
    private NodeState fromState;
    @Enumerated(EnumType.STRING)
    private NodeState toState;
    private String reason;
    private String actor;

    protected NodeEvent() {
    }

    NodeEvent(UUID nodeId, Instant at, NodeState fromState, NodeState toState, String reason, String actor) {
        this.nodeId = nodeId;
        this.at = at;
        this.fromState = fromState;
        this.toState = toState;
        this.reason = reason;
        this.actor = actor;
    }

    Long getId() {
        return id;
    }

    UUID getNodeId() {
        return nodeId;
    }

    Instant getAt() {
        return at;
    }

    NodeState getFromState() {
        return fromState;
    }

    NodeState getToState() {
        return toState;
    }

    String getReason() {
        return reason;
    }

    String getActor() {
        return actor;
    }
}
