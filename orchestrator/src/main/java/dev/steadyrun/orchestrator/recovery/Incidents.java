package dev.steadyrun.orchestrator.recovery;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker;

/** The {@code incident} table (the run's logbook) and the restart history the ladder decides from, in JDBC. */
@Repository
class Incidents {

    private static final TypeReference<List<CheckpointPicker.Skip>> SKIPS = new TypeReference<>() {
    };

    /** A new incident with its decision; {@code restore} null when the decision does not restart. */
    record NewIncident(UUID runId, IncidentKind kind, IncidentCause cause, String summary, IncidentState state,
                       Instant detectedAt, Instant lastHeartbeatAt, long generation, UUID nodeId, String nodeName,
                       Integer rank, Long onsetStep, String divergenceKind, Map<String, Object> evidence,
                       IncidentResponse.DecisionView decision, IncidentResponse.RestorePoint restore,
                       List<CheckpointPicker.Skip> skipped, Instant restartAfter, Duration detectionLatency) {
    }

    /** A generation placed by a restart: what it restored and the newest step it reached (null: none). */
    record RestartedGeneration(long generation, Long restoreStep, Long maxStep) {
    }

    private final JdbcTemplate jdbc;
    private final ObjectMapper json;

    Incidents(JdbcTemplate jdbc, ObjectMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    long insert(NewIncident i) {
        Long id = jdbc.queryForObject("""
                insert into incident (run_id, kind, cause, summary, state, detected_at, last_heartbeat_at, generation,
                    node_id, node_name, rank, onset_step, divergence_kind, evidence, decision, consumes_budget,
                    restore_step, restore_path, skipped_checkpoints, restart_after, detection_latency_ms)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?::jsonb, ?, ?)
                returning id""", Long.class,
                i.runId(), i.kind().name(), i.cause().name(), truncate(i.summary(), 1000), i.state().name(),
                Timestamp.from(i.detectedAt()), ts(i.lastHeartbeatAt()), i.generation(), i.nodeId(), i.nodeName(),
                i.rank(), i.onsetStep(), i.divergenceKind(), json.writeValueAsString(i.evidence()),
                i.decision() == null ? null : json.writeValueAsString(i.decision()),
                i.decision() != null && i.decision().consumesBudget(),
                i.restore() == null ? null : i.restore().step(), i.restore() == null ? null : i.restore().path(),
                json.writeValueAsString(i.skipped()), ts(i.restartAfter()),
                i.detectionLatency() == null ? null : i.detectionLatency().toMillis());
        return id == null ? -1 : id;
    }

    Optional<IncidentResponse> find(long id) {
        return jdbc.query("select * from incident where id = ?", this::response, id).stream().findFirst();
    }

    List<IncidentResponse> ofRun(UUID runId) {
        return jdbc.query("select * from incident where run_id = ? order by id desc", this::response, runId);
    }

    List<IncidentResponse> ofNode(UUID nodeId) {
        return jdbc.query("select * from incident where node_id = ? or swapped_in_node_id = ? order by id desc",
                this::response, nodeId, nodeId);
    }

    /** Adds an agent's hang evidence (thread dump, exit, log tail) to the backstop's HANG incident of that generation. */
    void attachToHang(UUID runId, long generation, Map<String, Object> evidence) {
        jdbc.update("""
                update incident set evidence = (evidence - 'threadDumpUnavailable') || ?::jsonb
                where id = (select max(id) from incident where run_id = ? and generation = ? and kind = 'HANG'
                            and evidence -> 'threadDump' is null)""",
                json.writeValueAsString(evidence), runId, generation);
    }

    /** The restore point changed after the decision: the checkpoint it named proved corrupt. */
    void restoreInstead(long id, IncidentResponse.RestorePoint restore, List<CheckpointPicker.Skip> skipped) {
        jdbc.update("""
                update incident set restore_step = ?, restore_path = ?,
                    skipped_checkpoints = skipped_checkpoints || ?::jsonb
                where id = ?""",
                restore == null ? null : restore.step(), restore == null ? null : restore.path(),
                json.writeValueAsString(skipped), id);
    }

    /** The restart it decided cannot be carried out: a human decides (the reason joins the decision's). */
    void needsHuman(long id, String why) {
        jdbc.update("""
                update incident set state = 'NEEDS_HUMAN',
                    decision = jsonb_set(decision, '{reasons}', (decision -> 'reasons') || to_jsonb(?::text))
                where id = ? and state = any (?)""", why, id,
                IncidentState.sourcesOf(IncidentState.NEEDS_HUMAN).stream().map(Enum::name).toArray(String[]::new));
    }

    /** Says why the restart waits; a pass that finds the same reason writes nothing (no row churn while it waits). */
    void waiting(long id, String why) {
        jdbc.update("""
                update incident set evidence = evidence || jsonb_build_object('waiting', ?::text)
                where id = ? and evidence ->> 'waiting' is distinct from ?""", why, id, why);
    }

    /** Every pending incident of the run is carried out by this new generation. */
    /**
     * The restart placed {@code newGeneration}: every incident it answers (its own and those that joined it) names
     * that generation and the restore point its ranks were given, which the placement may have changed (a newer
     * surviving memory snapshot, a checkpoint that proved unusable).
     */
    void placed(UUID runId, long newGeneration, UUID swappedIn, String swappedInName) {
        jdbc.update("""
                update incident i set new_generation = g.generation, swapped_in_node_id = ?,
                    swapped_in_node_name = ?, restore_step = g.restore_step, restore_path = g.restore_path,
                    evidence = evidence - 'waiting'
                from run_generation g
                where g.run_id = i.run_id and g.generation = ?
                  and i.run_id = ? and i.state = 'RECOVERING' and i.new_generation is null""",
                swappedIn, swappedInName, newGeneration, runId);
    }

    /** An incident that joined the restart after it placed {@code newGeneration} (RecoveryActions' late join). */
    void placedLate(long id, long newGeneration, UUID swappedIn, String swappedInName) {
        jdbc.update("""
                update incident i set new_generation = g.generation, swapped_in_node_id = ?,
                    swapped_in_node_name = ?, restore_step = g.restore_step, restore_path = g.restore_path
                from run_generation g
                where g.run_id = i.run_id and g.generation = ? and i.id = ?""",
                swappedIn, swappedInName, newGeneration, id);
    }

    /** The incidents a first step of {@code generation} settles: made RECOVERED, answered with kind and detection. */
    List<IncidentResponse> recovered(UUID runId, long generation, Instant at) {
        return jdbc.query("""
                update incident set state = 'RECOVERED', recovered_at = ?, new_generation = coalesce(new_generation, ?)
                where run_id = ? and generation < ? and state = any (?) returning *""", this::response,
                Timestamp.from(at), generation, runId, generation,
                IncidentState.sourcesOf(IncidentState.RECOVERED).stream().map(Enum::name).toArray(String[]::new));
    }

    /** The run ended (cancelled, failed, finished) before these incidents settled: they will not, so they close. */
    int closeForEndedRun(UUID runId, String why) {
        return jdbc.update("""
                update incident set state = 'CLOSED', evidence = evidence || jsonb_build_object('closed', ?::text)
                where run_id = ? and state = any (?)""", why, runId,
                IncidentState.sourcesOf(IncidentState.CLOSED).stream().map(Enum::name).toArray(String[]::new));
    }

    int divergenceRollbacks(UUID runId) {
        Integer n = jdbc.queryForObject("""
                select count(*) from incident where run_id = ? and kind = 'DIVERGENCE'
                and decision ->> 'action' = 'ROLLBACK_AND_RESTART'""", Integer.class, runId);
        return n == null ? 0 : n;
    }

    int budgetedRestarts(UUID runId) {
        Integer n = jdbc.queryForObject("select count(*) from incident where run_id = ? and consumes_budget",
                Integer.class, runId);
        return n == null ? 0 : n;
    }

    List<RestartedGeneration> restartedGenerations(UUID runId) {
        return jdbc.query("""
                select g.generation, g.restore_step,
                       greatest((select max(m.step) from run_metric m
                                 where m.run_id = g.run_id and m.generation = g.generation),
                                (select max(u.last_step) from run_metric_rollup u
                                 where u.run_id = g.run_id and u.generation = g.generation)) as max_step
                from run_generation g where g.run_id = ? and g.cause_incident_id is not null order by g.generation""",
                (rs, n) -> new RestartedGeneration(rs.getLong("generation"), (Long) rs.getObject("restore_step"),
                        (Long) rs.getObject("max_step")), runId);
    }

    private IncidentResponse response(ResultSet rs, int n) throws SQLException {
        Instant detected = rs.getTimestamp("detected_at").toInstant();
        Instant recovered = instant(rs, "recovered_at");
        Long restoreStep = (Long) rs.getObject("restore_step");
        String decision = rs.getString("decision");
        UUID swapped = rs.getObject("swapped_in_node_id", UUID.class);
        Long latencyMs = (Long) rs.getObject("detection_latency_ms");
        return new IncidentResponse(rs.getLong("id"), rs.getObject("run_id", UUID.class),
                IncidentKind.valueOf(rs.getString("kind")), IncidentCause.valueOf(rs.getString("cause")),
                rs.getString("summary"), IncidentState.valueOf(rs.getString("state")), detected,
                instant(rs, "last_heartbeat_at"), rs.getLong("generation"), rs.getObject("node_id", UUID.class),
                rs.getString("node_name"), (Integer) rs.getObject("rank"), (Long) rs.getObject("onset_step"),
                json.readTree(rs.getString("evidence")),
                decision == null ? null : json.readValue(decision, IncidentResponse.DecisionView.class),
                restoreStep == null ? null : new IncidentResponse.RestorePoint(restoreStep, rs.getString("restore_path")),
                json.readValue(rs.getString("skipped_checkpoints"), SKIPS), (Long) rs.getObject("new_generation"),
                swapped == null ? null : new IncidentResponse.SwappedIn(swapped, rs.getString("swapped_in_node_name")),
                recovered, latencyMs == null ? null : latencyMs / 1000.0,
                recovered == null ? null : Duration.between(detected, recovered).toMillis() / 1000.0);
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    private static Timestamp ts(Instant i) {
        return i == null ? null : Timestamp.from(i);
    }

    private static String truncate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
