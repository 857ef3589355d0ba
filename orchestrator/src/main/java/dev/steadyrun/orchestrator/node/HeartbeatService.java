package dev.steadyrun.orchestrator.node;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.springframework.stereotype.Service;

import dev.steadyrun.orchestrator.scheduling.NodeDirectives;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * A heartbeat: renews the lease in memory (stamped with the orchestrator's clock, never the node's), keeps the
 * latest GPU health and trainer status, moves the node when its health says so (rare, written synchronously)
 * and answers what the node should do, with the heartbeat timings of the current fleet size
 * ({@link LeaseTable#timingsNow()}; the node is judged by them from now on). No database work otherwise: renewals
 * are flushed in batches.
 *
 * <p>FAILED nodes are answered STOP (a trainer still runs) or IDLE and stay FAILED; DRAINING nodes likewise,
 * and become CORDONED once their trainer is idle. Every other node is answered by {@link NodeDirectives}.
 */
@Service
public class HeartbeatService {

    private final LeaseTable leases;
    private final NodeRegistry registry;
    private final NodeDirectives directives;
    private final FleetMetrics metrics;
    private final Clock clock;

    HeartbeatService(LeaseTable leases, NodeRegistry registry, NodeDirectives directives, FleetMetrics metrics,
                     Clock clock) {
        this.leases = leases;
        this.registry = registry;
        this.directives = directives;
        this.metrics = metrics;
        this.clock = clock;
    }

    public HeartbeatResponse heartbeat(UUID nodeId, HeartbeatRequest request) {
        long started = System.nanoTime();
        List<GpuHealth> gpus = validate(request);
        LeaseRecord r = leases.get(nodeId);
        if (r == null) {
            throw new NotFoundException("no node " + nodeId + "; register again");
        }
        Instant now = clock.instant();
        LeaseTimings timings = leases.timingsNow();
        TrainerStatus trainer = request.trainer();
        GpuFaults.Fault fault = GpuFaults.assess(r.gpus, gpus).orElse(null);
        r.lastSeen = now;
        r.sequence = request.sequence();
        r.gpus = gpus;
        r.trainer = trainer;
        r.timings = timings; // before the answer leaves: from now on the node is judged by these
        r.dirty.set(true);
        if (fault != null && fault.severity() == GpuFaults.Severity.DEGRADED) {
            r.degradedUntil = now.plus(timings.quietGrace());
        }
        NodeState state = react(r, fault, trainer, now);
        HeartbeatResponse response = switch (state) {
            case FAILED, DRAINING -> new HeartbeatResponse(active(trainer) ? DesiredState.STOP : DesiredState.IDLE,
                    null, timings);
            default -> directives.directivesFor(nodeId, trainer, timings);
        };
        metrics.heartbeat(System.nanoTime() - started);
        return response;
    }

    /** Moves the node when this heartbeat changes its health; returns the state it is in afterwards. */
    private NodeState react(LeaseRecord r, GpuFaults.Fault fault, TrainerStatus trainer, Instant now) {
        NodeState state = r.state;
        if (state == NodeState.FAILED) {
            return state; // sticky until an operator readmits it
        }
        UUID id = r.nodeId;
        if (fault != null && fault.severity() == GpuFaults.Severity.FATAL) {
            registry.transition(id, state, NodeState.FAILED, fault.reason(), NodeRegistry.SYSTEM);
        } else if (fault != null && fault.severity() == GpuFaults.Severity.DEGRADED) {
            if (state == NodeState.HEALTHY || state == NodeState.SPARE || state == NodeState.REGISTERED) {
                registry.transition(id, state, NodeState.SUSPECT, fault.reason(), NodeRegistry.SYSTEM);
            }
        } else if (state == NodeState.REGISTERED) {
            registry.transition(id, state, NodeState.HEALTHY, "first heartbeat", NodeRegistry.SYSTEM);
        } else if (state == NodeState.SUSPECT && !now.isBefore(r.degradedUntil)) {
            registry.transition(id, state, NodeState.HEALTHY, "heartbeats resumed", NodeRegistry.SYSTEM);
        }
        if (r.state == NodeState.DRAINING && !active(trainer)) {
            registry.transition(id, NodeState.DRAINING, NodeState.CORDONED, "drain complete: trainer is idle",
                    NodeRegistry.SYSTEM);
        }
        return r.state;
    }

    private static boolean active(TrainerStatus trainer) {
        return trainer.state() == TrainerState.RUNNING || trainer.state() == TrainerState.STARTING;
    }

    private static List<GpuHealth> validate(HeartbeatRequest request) {
        if (request.trainer() == null) {
            throw new BadRequestException("trainer", "required (TrainerStatus.idle() when no trainer runs)");
        }
        if (request.trainer().state() == null) {
            throw new BadRequestException("trainer.state", "required");
        }
        if (request.sequence() < 0) {
            throw new BadRequestException("sequence", "must be >= 0");
        }
        List<GpuHealth> gpus = request.gpus() == null ? List.of() : request.gpus();
        for (int i = 0; i < gpus.size(); i++) {
            if (gpus.get(i) == null) {
                throw new BadRequestException("gpus[" + i + "]", "must not be null");
            }
        }
        return gpus;
    }
}
