package dev.steadyrun.protocol;

/** A line of the trainer's stdout that the agent forwards: a step's metrics or a written checkpoint. */
public sealed interface TrainerLine permits StepMetrics, CheckpointWritten {
    String type();
}
