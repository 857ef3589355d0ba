package dev.steadyrun.orchestrator.scheduling;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.ObjectMapper;

/**
 * The one place that bumps a run's generation: a first placement or a resume (the scheduling pass) and a restart
 * (recovery, called from the pass). It writes the seats and the generation's record (the checkpoint to restore and
 * the restart knobs), which the directive snapshot hands to the agents.
 */
@Component
public class Generations {

    /** What a new generation restores from; {@link #SCRATCH} starts from nothing. */
    public record Restore(Long step, String path) {
        public static final Restore SCRATCH = new Restore(null, null);
    }

    private final Placements placements;
    private final JdbcTemplate jdbc;
    private final ObjectMapper json;

    Generations(Placements placements, JdbcTemplate jdbc, ObjectMapper json) {
        this.placements = placements;
        this.jdbc = jdbc;
        this.json = json;
    }

    /**
     * Places generation {@code run.generation + 1}: rank i on {@code ranks[i]}, spares on {@code spares}. The caller
     * holds the run's row lock and the scheduling lock, and has released every seat of the old generation.
     *
     * @param causeIncident the incident that restarts the run, null for a placement by the scheduler
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public long start(Run run, List<UUID> ranks, List<UUID> spares, Restore restore, RestartKnobs knobs,
                      Long causeIncident, Instant now) {
        long generation = run.nextGeneration();
        for (int rank = 0; rank < ranks.size(); rank++) {
            placements.insert(run.getId(), generation, ranks.get(rank), rank, now);
        }
        for (UUID spare : spares) {
            placements.insert(run.getId(), generation, spare, null, now);
        }
        jdbc.update("""
                insert into run_generation (run_id, generation, restore_step, restore_path, knobs, cause_incident_id,
                                            placed_at) values (?, ?, ?, ?, ?::jsonb, ?, ?)""",
                run.getId(), generation, restore.step(), restore.path(), json.writeValueAsString(knobs), causeIncident,
                Timestamp.from(now));
        if (restore.step() != null || causeIncident != null) {
            // the tokens the restored model has seen; the discarded steps' tokens count in goodput, not here
            Long tokens = restore.step() == null ? null : jdbc.query(
                    "select tokens_seen from checkpoint where run_id = ? and step = ?",
                    rs -> rs.next() ? rs.getLong(1) : null, run.getId(), restore.step());
            run.rewindTo(restore.step(), tokens == null ? 0 : tokens);
        }
        return generation;
    }

    /**
     * Where a placement by the scheduler (first start, resume) restores from: the newest healthy checkpoint that
     * no restore proved corrupt, no rollback abandoned and retention did not delete, else the newest such one at all.
     */
    Restore latestFor(UUID runId) {
        return jdbc.query("""
                select step, path from checkpoint where run_id = ? and not corrupt and not abandoned and not removed
                order by healthy desc, step desc limit 1""",
                rs -> rs.next() ? new Restore(rs.getLong("step"), rs.getString("path")) : Restore.SCRATCH, runId);
    }
}
