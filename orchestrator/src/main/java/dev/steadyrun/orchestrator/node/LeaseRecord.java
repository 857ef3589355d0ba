package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * One node's lease, in memory: renewed by every heartbeat without touching the database, written in batches by
 * {@link LeaseTable#flush}. {@link #state} mirrors the node row; it changes only through {@link NodeRegistry},
 * under this record's monitor.
 */
public final class LeaseRecord {

    final UUID nodeId;
    volatile NodeState state;
    /** The orchestrator's clock at the node's last heartbeat; null when it never reported. */
    volatile Instant lastSeen;
    /**
     * Leases and graces are counted from the later of {@link #lastSeen} and this: the (re-)registration or
     * readmission time, or the orchestrator's start (a restarted orchestrator gives every node a fresh grace).
     */
    volatile Instant graceFrom;
    /** The timings this node was last handed (registration, heartbeat answer, or restore): it is judged by them. */
    volatile LeaseTimings timings;
    volatile long sequence = -1;
    volatile List<GpuHealth> gpus;
    volatile TrainerStatus trainer;
    /** A degraded GPU fault keeps the node SUSPECT until then, even while it heartbeats. */
    volatile Instant degradedUntil = Instant.MIN;
    final AtomicBoolean dirty = new AtomicBoolean();

    LeaseRecord(UUID nodeId, NodeState state, Instant lastSeen, Instant graceFrom, LeaseTimings timings) {
        this.nodeId = nodeId;
        this.state = state;
        this.lastSeen = lastSeen;
        this.graceFrom = graceFrom;
        this.timings = timings;
    }

    public UUID nodeId() {
        return nodeId;
    }

    public NodeState state() {
        return state;
    }

    public Instant lastSeen() {
        return lastSeen;
    }

    /** The GPU health of the last heartbeat (null before the first). */
    public List<GpuHealth> gpus() {
        return gpus;
    }

    public TrainerStatus trainer() {
        return trainer;
    }

    /** Whether the node's last heartbeat said a trainer is starting or running. */
    public boolean trainerActive() {
        TrainerStatus t = trainer;
        return t != null && (t.state() == TrainerState.RUNNING || t.state() == TrainerState.STARTING);
    }

    Instant degradedUntil() {
        return degradedUntil;
    }

    /** True when the node has been silent for longer than its lease: whatever ran there counts as gone. */
    public boolean leaseExpired(Instant now) {
        LeaseTimings t = timings;
        return t != null && java.time.Duration.between(leaseBase(), now).compareTo(t.leaseDuration()) > 0;
    }

    /** The lease this node is judged by. */
    public java.time.Duration leaseDuration() {
        return timings.leaseDuration();
    }

    /** Where lease and grace counting starts. */
    Instant leaseBase() {
        Instant seen = lastSeen;
        return seen != null && seen.isAfter(graceFrom) ? seen : graceFrom;
    }
}
