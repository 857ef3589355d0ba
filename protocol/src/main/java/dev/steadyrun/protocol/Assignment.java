package dev.steadyrun.protocol;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One rank of one generation of a run, as the agent receives it in the heartbeat answer.
 *
 * @param trainerConfig   trainer-engine configuration keys and values ({@code key=value} overrides of its config)
 * @param restoreFrom     the checkpoint directory to restore, or null to start from scratch
 * @param restoreSha256   the SHA-256 of that checkpoint's manifest as its writer reported it: the trainer refuses to
 *                        restore a checkpoint whose manifest differs (exit 3), so a file planted or swapped in the
 *                        store is never loaded; null with {@code restoreFrom}
 * @param checkpointDir   where this run writes its checkpoints
 * @param rendezvous      host:port of rank 0's collective endpoint for data-parallel runs, null for one rank
 * @param hangTimeoutSeconds the agent's local watchdog: no step for this long means the trainer hangs
 * @param ringSecret      the generation's ring secret; every rank of the generation gets the same one
 * @param program         the program to train, null for the built-in one ({@link ProgramRef#BUILT_IN})
 * @param rank            the node's first global rank (its only one unless {@code localRanks} holds several)
 * @param localRanks      the ranks this node runs, one trainer each ({@link #ranksHere()}); null or empty for one rank,
 *                        {@code rank}, as before nodes ran several
 */
public record Assignment(UUID runId, int rank, int worldSize, long generation, Map<String, String> trainerConfig,
                         String restoreFrom, String restoreSha256, String checkpointDir, RestartKnobs knobs,
                         String rendezvous, long hangTimeoutSeconds, RingSecret ringSecret, ProgramRef program,
                         List<LocalRank> localRanks) {

    /** An assignment of one rank per node. */
    public Assignment(UUID runId, int rank, int worldSize, long generation, Map<String, String> trainerConfig,
                      String restoreFrom, String restoreSha256, String checkpointDir, RestartKnobs knobs,
                      String rendezvous, long hangTimeoutSeconds, RingSecret ringSecret, ProgramRef program) {
        this(runId, rank, worldSize, generation, trainerConfig, restoreFrom, restoreSha256, checkpointDir, knobs,
                rendezvous, hangTimeoutSeconds, ringSecret, program, null);
    }

    /** An assignment of the built-in program. */
    public Assignment(UUID runId, int rank, int worldSize, long generation, Map<String, String> trainerConfig,
                      String restoreFrom, String restoreSha256, String checkpointDir, RestartKnobs knobs,
                      String rendezvous, long hangTimeoutSeconds, RingSecret ringSecret) {
        this(runId, rank, worldSize, generation, trainerConfig, restoreFrom, restoreSha256, checkpointDir, knobs,
                rendezvous, hangTimeoutSeconds, ringSecret, null);
    }

    /** The ranks this node runs: {@code localRanks}, or {@code rank} alone (local rank 0, no GPU named). */
    public List<LocalRank> ranksHere() {
        return localRanks == null || localRanks.isEmpty() ? List.of(new LocalRank(0, rank, null)) : localRanks;
    }

    /** What one of this node's trainers runs: the same generation as global rank {@code local.globalRank()} alone. */
    public Assignment forLocalRank(LocalRank local) {
        return new Assignment(runId, local.globalRank(), worldSize, generation, trainerConfig, restoreFrom,
                restoreSha256, checkpointDir, knobs, rendezvous, hangTimeoutSeconds, ringSecret, program,
                List.of(local));
    }

    /** The same assignment with {@code config} as its trainer configuration. */
    public Assignment withTrainerConfig(Map<String, String> config) {
        return new Assignment(runId, rank, worldSize, generation, config, restoreFrom, restoreSha256, checkpointDir,
                knobs, rendezvous, hangTimeoutSeconds, ringSecret, program, localRanks);
    }

    /** The program to start: the built-in one unless the run names another. */
    public ProgramRef programOrBuiltIn() {
        return program == null ? ProgramRef.BUILT_IN : program;
    }
}
