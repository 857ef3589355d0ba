package dev.steadyrun.protocol;

import java.util.List;
import java.util.UUID;

/**
 * A batch of the trainer's lines, forwarded by the agent to {@code POST /api/v1/agents/{nodeId}/reports}.
 * A report whose generation is older than the run's current one is refused with 409, and the agent is told to
 * stop that trainer (fencing).
 *
 * @param droppedSteps step lines of this generation the agent dropped since its previous report because its
 *                     buffer overflowed during an orchestrator outage (checkpoint lines are never dropped)
 */
public record TrainerReport(UUID runId, int rank, long generation, List<StepMetrics> steps,
                            List<CheckpointWritten> checkpoints, Long droppedSteps) {

    public TrainerReport {
        // Absent in reports from agents that predate the field.
        droppedSteps = droppedSteps == null ? 0L : droppedSteps;
    }

    public TrainerReport(UUID runId, int rank, long generation, List<StepMetrics> steps,
                         List<CheckpointWritten> checkpoints) {
        this(runId, rank, generation, steps, checkpoints, 0L);
    }
}
