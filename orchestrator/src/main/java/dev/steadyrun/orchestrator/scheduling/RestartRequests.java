package dev.steadyrun.orchestrator.scheduling;

import java.sql.Array;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.RestoreRule;
import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.ObjectMapper;

/**
 * The {@code restart_request} table: what recovery decided the next generation of a recovering run must be. Recovery
 * writes a request ({@link #request}, {@link #join}); the {@link RestartPlacer} reads it and records the outcome.
 * Only the request of a run that is RECOVERING from its current generation is pending: one left behind by a run that
 * was paused or ended meanwhile is never carried out.
 */
@Repository
public class RestartRequests {

    /**
     * A restart recovery asked for.
     *
     * @param incidentId     the incident whose decision it carries out
     * @param restore        the checkpoint to restore (null: from scratch)
     * @param rule           how {@code restore} was picked, so a retry picks by the same rules
     * @param replaceNodes   nodes whose ranks must move (lost, failed, swapped, straggling)
     * @param notBefore      the end of the decision's backoff (null: at once)
     */
    public record Request(long incidentId, Checkpoints.RestorePoint restore, RestoreRule rule, RestartKnobs knobs,
                         Set<UUID> replaceNodes, Instant notBefore) {
    }

    /** A pending request with its id. */
    public record Pending(long id, UUID runId, long fromGeneration, Request request) {
    }

    private final JdbcTemplate jdbc;
    private final ObjectMapper json;

    RestartRequests(JdbcTemplate jdbc, ObjectMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /**
     * Asks for a restart of {@code runId}'s generation {@code fromGeneration}. A pending request for the same generation
     * is superseded (the newer decision's checkpoint, rule, knobs and backoff) but keeps the nodes it already had to
     * replace; an unplaced one for an older generation is stale and replaced whole.
     */
    public void request(UUID runId, long fromGeneration, Request r, Instant now) {
        Set<UUID> replace = new LinkedHashSet<>(r.replaceNodes());
        jdbc.query("select from_generation, replace_nodes from restart_request where run_id = ? and placed_generation is null",
                rs -> {
                    if (rs.getLong(1) == fromGeneration) {
                        replace.addAll(uuids(rs.getArray(2)));
                    }
                }, runId);
        jdbc.update("delete from restart_request where run_id = ? and placed_generation is null", runId);
        jdbc.update("""
                insert into restart_request (run_id, incident_id, from_generation, restore_step, restore_path,
                    restore_rule, knobs, replace_nodes, not_before, requested_at)
                values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?)""",
                runId, r.incidentId(), fromGeneration, r.restore() == null ? null : r.restore().step(),
                r.restore() == null ? null : r.restore().path(), json.writeValueAsString(r.rule()),
                json.writeValueAsString(r.knobs()), replace.toArray(UUID[]::new), ts(r.notBefore()), Timestamp.from(now));
    }

    /** Adds a node whose rank must move to the pending restart of its run; false when none is pending. */
    public boolean join(UUID runId, UUID nodeId) {
        return jdbc.update("""
                update restart_request q set replace_nodes = array_append(q.replace_nodes, ?)
                from run r where q.run_id = ? and q.placed_generation is null and r.id = q.run_id
                  and r.state = 'RECOVERING' and r.generation = q.from_generation
                  and not (? = any (q.replace_nodes))""", nodeId, runId, nodeId) > 0;
    }

    /** The request a recovering run waits for; empty when the run is not recovering from its current generation. */
    public Optional<Pending> pending(UUID runId) {
        return jdbc.query("""
                select q.* from restart_request q join run r on r.id = q.run_id
                where q.run_id = ? and q.placed_generation is null and r.state = 'RECOVERING'
                  and r.generation = q.from_generation""", (rs, n) -> {
            Long step = (Long) rs.getObject("restore_step");
            Timestamp notBefore = rs.getTimestamp("not_before");
            return new Pending(rs.getLong("id"), rs.getObject("run_id", UUID.class), rs.getLong("from_generation"),
                    new Request(rs.getLong("incident_id"),
                            step == null ? null : new Checkpoints.RestorePoint(step, rs.getString("restore_path")),
                            json.readValue(rs.getString("restore_rule"), RestoreRule.class),
                            json.readValue(rs.getString("knobs"), RestartKnobs.class),
                            new LinkedHashSet<>(uuids(rs.getArray("replace_nodes"))),
                            notBefore == null ? null : notBefore.toInstant()));
        }, runId).stream().findFirst();
    }

    /**
     * The request that placed {@code generation} of a run, while that generation has not trained a step: a failure
     * then (its restore failed, a peer was lost while it started) is a retry of the same restart.
     */
    public Optional<Request> placedUntrained(UUID runId, long generation) {
        return jdbc.query("""
                select q.* from restart_request q join run_generation g
                    on g.run_id = q.run_id and g.generation = q.placed_generation
                where q.run_id = ? and q.placed_generation = ? and g.first_step_at is null""", (rs, n) -> {
            Long step = (Long) rs.getObject("restore_step");
            return new Request(rs.getLong("incident_id"),
                    step == null ? null : new Checkpoints.RestorePoint(step, rs.getString("restore_path")),
                    json.readValue(rs.getString("restore_rule"), RestoreRule.class),
                    json.readValue(rs.getString("knobs"), RestartKnobs.class),
                    new LinkedHashSet<>(uuids(rs.getArray("replace_nodes"))), null);
        }, runId, generation).stream().findFirst();
    }

    /** Says why the restart waits; a pass that finds the same reason writes nothing. Returns whether it changed. */
    boolean waiting(long id, String why) {
        return jdbc.update("update restart_request set waiting = ? where id = ? and waiting is distinct from ?",
                why, id, why) > 0;
    }

    /** The restore point changed after the decision (the chosen one proved unusable). */
    void restoreInstead(long id, Checkpoints.RestorePoint restore) {
        jdbc.update("update restart_request set restore_step = ?, restore_path = ? where id = ?",
                restore == null ? null : restore.step(), restore == null ? null : restore.path(), id);
    }

    void placed(long id, long generation, Instant now) {
        jdbc.update("update restart_request set placed_generation = ?, placed_at = ?, waiting = null where id = ?",
                generation, Timestamp.from(now), id);
    }

    private static java.util.List<UUID> uuids(Array array) throws java.sql.SQLException {
        return array == null ? java.util.List.of() : Arrays.asList((UUID[]) array.getArray());
    }

    private static Timestamp ts(Instant i) {
        return i == null ? null : Timestamp.from(i);
    }
}
