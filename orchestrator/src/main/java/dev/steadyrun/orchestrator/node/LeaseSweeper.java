package dev.steadyrun.orchestrator.node;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/**
 * Applies {@link LeaseDetector}'s plan: moves silent nodes, opens and closes fleet incidents. Runs from the Quartz
 * lease-sweep job; tests call {@link #sweep(Instant)} directly with their clock's time.
 */
@Service
public class LeaseSweeper {

    private static final Logger log = LoggerFactory.getLogger(LeaseSweeper.class);

    private final LeaseTable leases;
    private final NodeRegistry registry;
    private final FleetIncidentRepository incidents;
    private final FleetMetrics metrics;
    private final LeaseDetector detector;
    private final Duration unseenRegistrationExpiry;

    LeaseSweeper(LeaseTable leases, NodeRegistry registry, FleetIncidentRepository incidents, FleetMetrics metrics,
                 FleetProperties props) {
        this.leases = leases;
        this.registry = registry;
        this.incidents = incidents;
        this.metrics = metrics;
        this.detector = new LeaseDetector(props.massFailureThreshold(), props.massFailureMinFleet());
        this.unseenRegistrationExpiry = props.unseenRegistrationExpiry();
        metrics.incident(incidents.findFirstByClosedAtIsNullOrderByIdDesc().isPresent());
    }

    /** One sweep at {@code now}; returns the plan it applied. Serialized: two sweeps never interleave. */
    public synchronized LeaseDetector.Plan sweep(Instant now) {
        if (!leases.isServing()) {
            return new LeaseDetector.Plan(List.of(), LeaseDetector.IncidentAction.NONE, leases.all().size(), 0);
        }
        boolean open = incidents.findFirstByClosedAtIsNullOrderByIdDesc().isPresent();
        LeaseDetector.Plan plan = detector.plan(leases.all(), now, open);
        switch (plan.incident()) {
            case OPEN -> openIncident(plan, now);
            case CLOSE -> closeIncident(plan, now);
            case NONE -> { }
        }
        for (LeaseDetector.Move move : plan.moves()) {
            LeaseRecord r = leases.get(move.nodeId());
            // A heartbeat that arrived since the plan was made wins.
            if (r == null || !r.leaseBase().equals(move.silentSince())) {
                continue;
            }
            if (registry.transition(move.nodeId(), move.from(), move.to(), move.reason(), NodeRegistry.SYSTEM)) {
                metrics.detected(Duration.between(move.silentSince(), now));
            }
        }
        expireUnseen(now);
        leases.recount();
        return plan;
    }

    /** Deletes registrations that never heartbeat (FAILED for it) once they are older than the expiry. */
    private void expireUnseen(Instant now) {
        for (LeaseRecord r : leases.all()) {
            if (r.state == NodeState.FAILED && r.lastSeen == null
                    && Duration.between(r.graceFrom, now).compareTo(unseenRegistrationExpiry) > 0) {
                registry.expire(r.nodeId, "never heartbeat within " + unseenRegistrationExpiry.toMinutes()
                        + " min of registering");
            }
        }
    }

    private void openIncident(LeaseDetector.Plan plan, Instant now) {
        String reason = plan.silentNodes() + " of " + plan.fleetSize() + " nodes went silent at once: more likely"
                + " the orchestrator is cut off than the nodes dead; not failing them";
        incidents.save(new FleetIncident(now, plan.fleetSize(), plan.silentNodes(), reason));
        metrics.incident(true);
        log.error("Fleet incident opened: {}", reason);
    }

    private void closeIncident(LeaseDetector.Plan plan, Instant now) {
        incidents.findFirstByClosedAtIsNullOrderByIdDesc().ifPresent(i -> {
            i.close(now);
            incidents.save(i);
        });
        metrics.incident(false);
        log.warn("Fleet incident closed: {} of {} nodes silent; normal failure handling resumes",
                plan.silentNodes(), plan.fleetSize());
    }
}
