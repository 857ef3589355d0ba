package dev.steadyrun.protocol;

/**
 * The orchestrator's answer to a heartbeat: the node's desired state, its assignment when it should run a
 * trainer, and the timings in force (they may change while a node is registered).
 */
public record HeartbeatResponse(DesiredState desired, Assignment assignment, LeaseTimings timings) {
}
