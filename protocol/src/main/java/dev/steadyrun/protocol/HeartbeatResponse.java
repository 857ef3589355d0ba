package dev.steadyrun.protocol;

import java.util.List;

/**
 * The orchestrator's answer to a heartbeat: the node's desired state, its assignment when it should run a
 * trainer, and the timings in force (they may change while a node is registered).
 *
 * @param keep a checkpoint the node's trainer must not delete (the restore point of its run's pending restart), or
 *             null
 * @param chaos faults to inject, asked through the orchestrator's chaos API (a test tool, off by default); null or
 *              empty almost always
 */
public record HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings,
                                CheckpointPin keep, List<ChaosFault> chaos) {

    public HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings) {
        this(desired, assignment, timings, null, null);
    }

    public HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings, CheckpointPin keep) {
        this(desired, assignment, timings, keep, null);
    }

    /** This answer with faults to inject added. */
    public HeartbeatResponse withChaos(List<ChaosFault> faults) {
        return new HeartbeatResponse(desired, assignment, timings, keep, List.copyOf(faults));
    }
}
