package dev.steadyrun.orchestrator.scheduling;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.MemorySnapshots;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;
import tools.jackson.databind.ObjectMapper;

/**
 * The {@code run_generation} table, and its only writer; the one place that bumps a run's generation: a first
 * placement or a resume (the scheduling pass) and a restart (the restart placer). It writes the seats and the
 * generation's record (the checkpoint to restore with its manifest's SHA-256, the restart knobs and the ring secret
 * its ranks authenticate each other with), which the directive snapshot hands to the agents, and the time the
 * generation's first step arrived.
 */
@Component
public class Generations {

    private final Placements placements;
    private final Checkpoints checkpoints;
    private final MemorySnapshots memorySnapshots;
    private final JdbcTemplate jdbc;
    private final ObjectMapper json;

    Generations(Placements placements, Checkpoints checkpoints, MemorySnapshots memorySnapshots, JdbcTemplate jdbc,
                ObjectMapper json) {
        this.placements = placements;
        this.checkpoints = checkpoints;
        this.memorySnapshots = memorySnapshots;
        this.jdbc = jdbc;
        this.json = json;
    }

    /**
     * Places generation {@code run.generation + 1}: rank i on {@code ranks[i]}, spares on {@code spares}. The caller
     * holds the run's row lock and the scheduling lock, and has released every seat of the old generation.
     *
     * @param restore       the checkpoint to restore, null to start from scratch
     * @param causeIncident the incident that restarts the run, null for a placement by the scheduler
     */
    @Transactional(propagation = Propagation.MANDATORY)
    long start(Run run, List<UUID> ranks, List<UUID> spares, Checkpoints.RestorePoint restore, RestartKnobs knobs,
               Long causeIncident, Instant now) {
        long generation = run.nextGeneration();
        for (int rank = 0; rank < ranks.size(); rank++) {
            placements.insert(run.getId(), generation, ranks.get(rank), rank, now);
        }
        for (UUID spare : spares) {
            placements.insert(run.getId(), generation, spare, null, now);
        }
        Long step = restore == null ? null : restore.step();
        // the manifest's SHA-256 as reported by its writer, fixed now: the trainer checks what it reads against it
        boolean memory = restore != null && restore.inMemory();
        String sha = step == null ? null : memory ? memorySnapshots.manifestShaAt(run.getId(), step)
                : checkpoints.manifestShaAt(run.getId(), step);
        // the snapshots after the restored step belong to a trajectory this generation discards
        memorySnapshots.forgetAfter(run.getId(), step);
        jdbc.update("""
                insert into run_generation (run_id, generation, restore_step, restore_path, restore_sha256, knobs,
                                            cause_incident_id, placed_at, ring_secret)
                values (?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)""",
                run.getId(), generation, step, restore == null ? null : restore.path(), sha,
                json.writeValueAsString(knobs), causeIncident, Timestamp.from(now), RingSecret.random().bytes());
        if (step != null || causeIncident != null) {
            // the tokens the restored model has seen; the discarded steps' tokens count in goodput, not here
            Long tokens = step == null ? null : memory ? memorySnapshots.tokensSeenAt(run.getId(), step)
                    : checkpoints.tokensSeenAt(run.getId(), step);
            run.rewindTo(step, tokens == null ? 0 : tokens);
        }
        return generation;
    }

    /** The first step of a generation arrived: true only for the report that brought it. */
    public boolean markFirstStep(UUID runId, long generation, Instant at) {
        return jdbc.update("""
                update run_generation set first_step_at = ?
                where run_id = ? and generation = ? and first_step_at is null""",
                Timestamp.from(at), runId, generation) > 0;
    }

    /** Whether a generation was told to restore a memory snapshot. */
    public boolean restoresFromMemory(UUID runId, long generation) {
        return Boolean.TRUE.equals(jdbc.query("select restore_path from run_generation where run_id = ? and generation = ?",
                rs -> rs.next() && rs.getString(1) != null
                        && rs.getString(1).startsWith(Checkpoints.RestorePoint.MEMORY_PREFIX), runId, generation));
    }

    /** The checkpoint a generation was told to restore; null for one that started from scratch (or is unknown). */
    public Long restoreStepOf(UUID runId, long generation) {
        return jdbc.query("select restore_step from run_generation where run_id = ? and generation = ?",
                rs -> rs.next() ? (Long) rs.getObject(1) : null, runId, generation);
    }
}
