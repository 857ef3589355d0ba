package dev.steadyrun.agent.trainer;

import java.util.UUID;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * What the lease loop drives: the real trainer child process ({@link TrainerSupervisor}) or the simulated
 * fleet's synthetic trainer. Calls never block on the trainer (stopping one takes a grace period; heartbeats
 * must go on meanwhile).
 */
public interface TrainerDriver {

    /** Acts on a heartbeat answer: ensure the assignment runs at its generation, or stop. */
    void apply(DesiredState desired, Assignment assignment);

    /**
     * The orchestrator chose a checkpoint of the running trainer's run to restore: the trainer must not delete it
     * (called before {@link #apply} acts on the same answer, so before a stop).
     */
    void keep(CheckpointPin pin);

    /** The orchestrator refused a report of this generation (409): stop that trainer. */
    void fence(UUID runId, long generation);

    /** What the next heartbeat carries. */
    TrainerStatus status();

    /** Stops any trainer and waits up to the grace period for it to exit (agent shutdown). */
    void shutdown();
}
