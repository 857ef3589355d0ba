package dev.steadyrun.protocol;

/** What the agent's trainer child process is doing. */
public enum TrainerState {
    /** No trainer process. */
    IDLE,
    /** Launched, no step reported yet (loading a checkpoint, building the graph). */
    STARTING,
    RUNNING,
    /** Exited; the exit code says how. */
    EXITED
}
