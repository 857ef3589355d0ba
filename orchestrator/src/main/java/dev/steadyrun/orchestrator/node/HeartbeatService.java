package dev.steadyrun.orchestrator.node;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.springframework.stereotype.Service;

import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.LeaseTimings;

/**
 * A heartbeat's effect on the node: renews its lease in memory (stamped with the orchestrator's clock, never the
 * node's; {@link LeaseTable#renew}), keeps the latest GPU health and trainer status, and moves the node when its
 * health says so (rare, written synchronously). The node is judged from now on by the heartbeat timings of the
 * current fleet size ({@link LeaseTable#timingsNow()}), which the answer carries. No database work otherwise:
 * renewals are flushed in batches. What the node should do is the agent front door's to answer.
 */
@Service
public class HeartbeatService {

    /** The node's state after the heartbeat, and the timings it is judged by (and told) from now on. */
    public record Beat(NodeState state, LeaseTimings timings) {
    }

    private final LeaseTable leases;
    private final NodeRegistry registry;
    private final Clock clock;

    HeartbeatService(LeaseTable leases, NodeRegistry registry, Clock clock) {
        this.leases = leases;
        this.registry = registry;
        this.clock = clock;
    }

    public Beat beat(UUID nodeId, HeartbeatRequest request) {
        List<GpuHealth> gpus = validate(request);
        LeaseRecord r = leases.get(nodeId);
        if (r == null) {
            throw new NotFoundException("no node " + nodeId + "; register again");
        }
        Instant now = clock.instant();
        LeaseTimings timings = leases.timingsNow();
        GpuFaults.Fault fault = GpuFaults.assess(r.gpus(), gpus, request.gpuProbe()).orElse(null);
        leases.renew(r, request.sequence(), gpus, request.trainer(), timings, now,
                fault != null && fault.severity() == GpuFaults.Severity.DEGRADED ? now.plus(timings.quietGrace()) : null);
        return new Beat(react(r, fault, now), timings);
    }

    /** Moves the node when this heartbeat changes its health; returns the state it is in afterwards. */
    private NodeState react(LeaseRecord r, GpuFaults.Fault fault, Instant now) {
        NodeState state = r.state();
        if (state == NodeState.FAILED) {
            return state; // sticky until an operator readmits it
        }
        UUID id = r.nodeId();
        if (fault != null && fault.severity() == GpuFaults.Severity.FATAL) {
            registry.transition(id, state, NodeState.FAILED, fault.reason(), NodeRegistry.SYSTEM);
        } else if (fault != null && fault.severity() == GpuFaults.Severity.DEGRADED) {
            if (state == NodeState.HEALTHY || state == NodeState.SPARE || state == NodeState.REGISTERED) {
                registry.transition(id, state, NodeState.SUSPECT, fault.reason(), NodeRegistry.SYSTEM);
            }
        } else if (state == NodeState.REGISTERED) {
            registry.transition(id, state, NodeState.HEALTHY, "first heartbeat", NodeRegistry.SYSTEM);
        } else if (state == NodeState.SUSPECT && !now.isBefore(r.degradedUntil())) {
            registry.transition(id, state, NodeState.HEALTHY, "heartbeats resumed", NodeRegistry.SYSTEM);
        }
        if (r.state() == NodeState.DRAINING && !r.trainerActive()) {
            registry.transition(id, NodeState.DRAINING, NodeState.CORDONED, "drain complete: trainer is idle",
                    NodeRegistry.SYSTEM);
        }
        return r.state();
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
        if (request.gpuProbe() != null && request.gpuProbe().severity() == null) {
            throw new BadRequestException("gpuProbe.severity", "required (DEGRADED or FATAL)");
        }
        if (request.gpuProbe() != null && request.gpuProbe().staleSeconds() < 0) {
            throw new BadRequestException("gpuProbe.staleSeconds", "must be >= 0");
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
