package dev.steadyrun.orchestrator.node;

import java.time.Instant;

import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A sweep in which too much of the fleet was silent to blame the nodes (see {@link LeaseDetector}). */
@Entity
@Table(name = "fleet_incident")
class FleetIncident {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;
    private Instant openedAt;
    private Instant closedAt;
    private int fleetSize;
    private int silentNodes;
    private String reason;

    protected FleetIncident() {
    }

    FleetIncident(Instant openedAt, int fleetSize, int silentNodes, String reason) {
        this.openedAt = openedAt;
        this.fleetSize = fleetSize;
        this.silentNodes = silentNodes;
        this.reason = reason;
    }

    void close(Instant at) {
        closedAt = at;
    }

    Long getId() {
        return id;
    }

    Instant getOpenedAt() {
        return openedAt;
    }

    Instant getClosedAt() {
        return closedAt;
    }

    int getFleetSize() {
        return fleetSize;
    }

    int getSilentNodes() {
        return silentNodes;
    }

    String getReason() {
        return reason;
    }
}
