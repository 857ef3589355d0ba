package dev.steadyrun.protocol;

/** What the orchestrator wants a node to do, answered to every heartbeat. */
public enum DesiredState {
    /** Run no trainer; stop one that runs. */
    IDLE,
    /** Run the trainer described by the assignment (start it if it is not running at that generation). */
    RUN,
    /** Stop the trainer now: the node's generation is stale or the run was stopped. */
    STOP
}
