package dev.steadyrun.orchestrator.checkpoint;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import dev.steadyrun.orchestrator.run.RecoveryPolicy;
import dev.steadyrun.protocol.CheckpointWritten;

/**
 * The {@code checkpoint} table, and its only writer: what trainers reported, and what restores and rollbacks learned
 * about each checkpoint since ({@code corrupt}, {@code abandoned}, {@code removed}). Also answers which checkpoint a
 * restart restores, by a {@link RestoreRule} and the run's policy ({@link CheckpointPicker} decides).
 */
@Repository
public class Checkpoints {

    /** OPT's rule: a checkpoint written while the dynamic loss scale was below 1.0 preceded divergence. */
    public static final double HEALTHY_LOSS_SCALE = 1.0;
    /**
     * A checkpoint that this many different nodes could not read (exit 7) is no longer offered: one node's failure is
     * that node's (no view of the store, a local disk), two are the checkpoint's.
     */
    public static final int UNAVAILABLE_AFTER_NODES = 2;

    /** A checkpoint to restore; a memory snapshot's path is {@code memory:STEP}, what the trainer's --restore takes. */
    public record RestorePoint(long step, String path) {
        public static final String MEMORY_PREFIX = "memory:";

        public static RestorePoint memory(long step) {
            return new RestorePoint(step, MEMORY_PREFIX + step);
        }

        public boolean inMemory() {
            return path != null && path.startsWith(MEMORY_PREFIX);
        }
    }

    /** The outcome of a pick: the checkpoint (empty: none fits) and every newer one passed over, newest first. */
    public record Choice(Optional<RestorePoint> chosen, List<CheckpointPicker.Skip> skipped) {
    }

    private final JdbcTemplate jdbc;

    Checkpoints(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Stores checkpoints, one per (run, step): every rank of a data-parallel run reports the same one. A later
     * generation that writes the same step again (after a rollback) replaces the old one.
     */
    public void store(UUID runId, long generation, List<CheckpointWritten> checkpoints, Instant at) {
        if (checkpoints.isEmpty()) {
            return;
        }
        Timestamp ts = Timestamp.from(at);
        jdbc.batchUpdate("""
                insert into checkpoint (run_id, step, generation, path, tokens_seen, loss_scale, loss, manifest_sha,
                                        bytes, healthy, reported_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                on conflict (run_id, step) do update set generation = excluded.generation, path = excluded.path,
                    tokens_seen = excluded.tokens_seen, loss_scale = excluded.loss_scale, loss = excluded.loss,
                    manifest_sha = excluded.manifest_sha, bytes = excluded.bytes, healthy = excluded.healthy,
                    reported_at = excluded.reported_at, corrupt = false, abandoned = false, removed = false
                where checkpoint.generation < excluded.generation""", checkpoints, 100,
                (ps, c) -> {
                    ps.setObject(1, runId);
                    ps.setLong(2, c.step());
                    ps.setLong(3, generation);
                    ps.setString(4, c.path());
                    ps.setLong(5, c.tokensSeen());
                    ps.setDouble(6, c.lossScale());
                    ps.setDouble(7, c.loss());
                    ps.setString(8, c.manifestSha256());
                    ps.setLong(9, c.bytes());
                    ps.setBoolean(10, c.lossScale() >= HEALTHY_LOSS_SCALE);
                    ps.setTimestamp(11, ts);
                });
        List<Long> removed = checkpoints.stream().flatMap(c -> c.removedSteps().stream()).toList();
        if (!removed.isEmpty()) {
            jdbc.update("update checkpoint set removed = true where run_id = ? and step = any (?)", runId,
                    removed.toArray(Long[]::new));
        }
        // Reported after a rollback of its generation was decided: the rule the decision applied to those before it.
        jdbc.update("""
                update checkpoint c set abandoned = true from incident i
                where c.run_id = ? and c.generation = ? and not c.abandoned
                  and i.run_id = c.run_id and i.generation = c.generation
                  and i.decision ->> 'action' = 'ROLLBACK_AND_RESTART' and c.step > i.restore_step""",
                runId, generation);
    }

    public List<CheckpointResponse> list(UUID runId) {
        return jdbc.query("select * from checkpoint where run_id = ? order by step desc", (rs, i) ->
                new CheckpointResponse(rs.getLong("step"), rs.getLong("generation"), rs.getString("path"),
                        rs.getLong("tokens_seen"), rs.getDouble("loss_scale"), rs.getDouble("loss"),
                        rs.getString("manifest_sha"), rs.getLong("bytes"), rs.getBoolean("healthy"),
                        rs.getTimestamp("reported_at").toInstant(), rs.getBoolean("corrupt"),
                        rs.getBoolean("abandoned"), rs.getBoolean("removed"), rs.getBoolean("unavailable")), runId);
    }

    /**
     * The checkpoint a restart restores by {@code rule}, among those newer than nothing and older than
     * {@code below} (null: any), with every newer one passed over and why.
     */
    public Choice pick(UUID runId, RestoreRule rule, RecoveryPolicy policy, Long below) {
        List<CheckpointPicker.Candidate> candidates = new ArrayList<>();
        Map<Long, String> paths = new java.util.HashMap<>();
        jdbc.query("""
                select c.step, c.path, c.loss_scale, c.corrupt, c.unavailable,
                       (select count(*) from incident i join run_generation g
                            on g.run_id = i.run_id and g.generation = i.generation
                        where i.run_id = c.run_id and i.kind = 'DIVERGENCE' and i.divergence_kind = ?
                          and g.restore_step = c.step) as same_endings
                from checkpoint c
                where c.run_id = ? and not c.abandoned and not c.removed and (?::bigint is null or c.step < ?)
                order by c.step desc""", rs -> {
            paths.put(rs.getLong("step"), rs.getString("path"));
            candidates.add(new CheckpointPicker.Candidate(rs.getLong("step"), rs.getDouble("loss_scale"),
                    rs.getBoolean("corrupt"), rs.getBoolean("unavailable"), rs.getInt("same_endings")));
        }, rule.divergenceKind() == null ? "" : rule.divergenceKind(), runId, below, below);
        CheckpointPicker picker = new CheckpointPicker(policy);
        CheckpointPicker.Pick pick = switch (rule.mode()) {
            case BEFORE_DIVERGENCE -> picker.beforeDivergence(candidates, rule.onsetStep());
            case LATEST_USABLE -> picker.latestUsable(candidates);
            case EXACT -> below == null ? picker.exactly(candidates, rule.step()) : picker.latestUsable(candidates);
        };
        return new Choice(pick.chosen().map(c -> new RestorePoint(c.step(), paths.get(c.step()))), pick.skipped());
    }

    /**
     * Where a placement by the scheduler (first start, resume) restores from: the newest healthy checkpoint that
     * no restore proved corrupt, no rollback abandoned and retention did not delete, else the newest such one at all.
     */
    public Optional<RestorePoint> latestForPlacement(UUID runId) {
        return jdbc.query("""
                select step, path from checkpoint
                where run_id = ? and not corrupt and not unavailable and not abandoned and not removed
                order by healthy desc, step desc limit 1""", (rs, n) ->
                new RestorePoint(rs.getLong("step"), rs.getString("path")), runId).stream().findFirst();
    }

    /**
     * Why a restore point chosen earlier may no longer be used (a restore proved it corrupt, retention deleted it, a
     * rollback abandoned it), or null when it still may.
     */
    public String unusable(UUID runId, long step) {
        return jdbc.query("select corrupt, unavailable, removed, abandoned from checkpoint where run_id = ? and step = ?",
                rs -> {
            if (!rs.next()) {
                return "unknown: no such checkpoint was reported";
            }
            return rs.getBoolean("corrupt") ? "corrupt: a restore from it failed"
                    : rs.getBoolean("unavailable") ? "unavailable: restores could not read it on "
                    + UNAVAILABLE_AFTER_NODES + " nodes"
                    : rs.getBoolean("removed") ? "removed: the trainer's retention deleted it"
                    : rs.getBoolean("abandoned") ? "abandoned: a rollback went back past it" : null;
        }, runId, step);
    }

    /** The tokens the model at that checkpoint had seen; null for an unknown checkpoint. */
    public Long tokensSeenAt(UUID runId, long step) {
        return jdbc.query("select tokens_seen from checkpoint where run_id = ? and step = ?",
                rs -> rs.next() ? rs.getLong(1) : null, runId, step);
    }

    /** The SHA-256 of the checkpoint's manifest as its writer reported it; null for an unknown checkpoint. */
    public String manifestShaAt(UUID runId, long step) {
        return jdbc.query("select manifest_sha from checkpoint where run_id = ? and step = ?",
                rs -> rs.next() ? rs.getString(1) : null, runId, step);
    }

    /** A restore from it failed: never a restore point again. False for an unknown checkpoint. */
    public boolean markCorrupt(UUID runId, long step) {
        return jdbc.update("update checkpoint set corrupt = true where run_id = ? and step = ?", runId, step) > 0;
    }

    /**
     * A restore on {@code nodeId} could not read it; after {@link #UNAVAILABLE_AFTER_NODES} different nodes it is
     * unavailable (never corrupt: its files may be whole). Returns the nodes that failed so far.
     */
    public List<UUID> unavailableOn(UUID runId, long step, UUID nodeId) {
        List<UUID> nodes = jdbc.query("""
                update checkpoint set unavailable_nodes = case when ? = any (unavailable_nodes) then unavailable_nodes
                                                          else array_append(unavailable_nodes, ?) end
                where run_id = ? and step = ? returning unavailable_nodes""",
                (rs, n) -> java.util.Arrays.asList((UUID[]) rs.getArray(1).getArray()), nodeId, nodeId, runId, step)
                .stream().findFirst().orElse(List.of());
        if (nodes.size() >= UNAVAILABLE_AFTER_NODES) {
            jdbc.update("update checkpoint set unavailable = true where run_id = ? and step = ?", runId, step);
        }
        return nodes;
    }

    /** Whether the run ever reported a checkpoint (usable or not): then it must never silently restart from scratch. */
    public boolean anyReported(UUID runId) {
        return Boolean.TRUE.equals(jdbc.queryForObject("select exists (select 1 from checkpoint where run_id = ?)",
                Boolean.class, runId));
    }

    /** A rollback to {@code step} went back past every newer checkpoint: they belong to a discarded trajectory. */
    public void abandonAfter(UUID runId, long step) {
        jdbc.update("update checkpoint set abandoned = true where run_id = ? and step > ?", runId, step);
    }
}
