package dev.steadyrun.protocol;

/**
 * The orchestrator's answer to a heartbeat: the node's desired state, its assignment when it should run a
 * trainer, and the timings in force (they may change while a node is registered).
 *
 * @param keep a checkpoint the node's trainer must not delete (the restore point of its run's pending restart), or
 *             null
 */
public record HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings,
                                CheckpointPin keep) {

    public HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings) {
        this(desired, assignment, timings, null);
    }
}
