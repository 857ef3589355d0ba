package dev.steadyrun.protocol;

import java.util.Map;
import java.util.UUID;

/**
 * One rank of one generation of a run, as the agent receives it in the heartbeat answer.
 *
 * @param trainerConfig   trainer-engine configuration keys and values ({@code key=value} overrides of its config)
 * @param restoreFrom     the checkpoint directory to restore, or null to start from scratch
 * @param checkpointDir   where this run writes its checkpoints
 * @param rendezvous      host:port of rank 0's collective endpoint for data-parallel runs, null for one rank
 * @param hangTimeoutSeconds the agent's local watchdog: no step for this long means the trainer hangs
 * @param ringSecret      the generation's ring secret; every rank of the generation gets the same one
 */
public record Assignment(UUID runId, int rank, int worldSize, long generation, Map<String, String> trainerConfig,
                         String restoreFrom, String checkpointDir, RestartKnobs knobs, String rendezvous,
                         long hangTimeoutSeconds, RingSecret ringSecret) {
}
