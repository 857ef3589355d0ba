package dev.steadyrun.orchestrator.checkpoint;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import dev.steadyrun.protocol.CheckpointWritten;

/**
 * The {@code memory_snapshot} table, and its only writer: which node holds which ranks' shards of each memory
 * snapshot, as every rank reports it (docs/recovery.md). A restart after a failure that says nothing about the model
 * restores the newest snapshot whose every shard a node of the new generation holds, when it is newer than the
 * durable choice ({@link CheckpointPicker#newestSurvivingSnapshot}).
 */
@Repository
public class MemorySnapshots {

    private final JdbcTemplate jdbc;

    MemorySnapshots(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** Stores what {@code rank} on {@code nodeId} reported; the snapshots its retention deleted are forgotten. */
    public void store(UUID runId, long generation, UUID nodeId, int rank, int worldSize,
                      List<CheckpointWritten> snapshots, Instant at) {
        if (snapshots.isEmpty()) {
            return;
        }
        Timestamp ts = Timestamp.from(at);
        jdbc.batchUpdate("""
                insert into memory_snapshot (run_id, step, generation, node_id, rank, held_ranks, world_size,
                                             manifest_sha, shard_sha, replica_sha, tokens_seen, loss_scale, loss,
                                             bytes, reported_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                on conflict (run_id, step, node_id, rank) do update set generation = excluded.generation,
                    held_ranks = excluded.held_ranks, world_size = excluded.world_size,
                    manifest_sha = excluded.manifest_sha, shard_sha = excluded.shard_sha,
                    replica_sha = excluded.replica_sha, tokens_seen = excluded.tokens_seen,
                    loss_scale = excluded.loss_scale, loss = excluded.loss, bytes = excluded.bytes,
                    unusable = false, reported_at = excluded.reported_at""", snapshots, 100, (ps, s) -> {
                    ps.setObject(1, runId);
                    ps.setLong(2, s.step());
                    ps.setLong(3, generation);
                    ps.setObject(4, nodeId);
                    ps.setInt(5, rank);
                    ps.setArray(6, ps.getConnection().createArrayOf("integer", s.heldRanks().toArray()));
                    ps.setInt(7, worldSize);
                    ps.setString(8, s.manifestSha256());
                    ps.setString(9, s.shardSha256());
                    ps.setString(10, s.replicaSha256());
                    ps.setLong(11, s.tokensSeen());
                    ps.setDouble(12, s.lossScale());
                    ps.setDouble(13, s.loss());
                    ps.setLong(14, s.bytes());
                    ps.setTimestamp(15, ts);
                });
        List<Long> removed = snapshots.stream().flatMap(s -> s.removedSteps().stream()).toList();
        if (!removed.isEmpty()) {
            jdbc.update("delete from memory_snapshot where run_id = ? and node_id = ? and rank = ? and step = any (?)",
                    runId, nodeId, rank, removed.toArray(Long[]::new));
        }
    }

    /** Every node's report of every snapshot of the run, newest step (then newest report) first. */
    public List<CheckpointPicker.Holder> holders(UUID runId) {
        return jdbc.query("""
                select step, manifest_sha, world_size, node_id, held_ranks, unusable from memory_snapshot
                where run_id = ? order by step desc, reported_at desc""", (rs, i) ->
                new CheckpointPicker.Holder(rs.getLong("step"), rs.getString("manifest_sha"), rs.getInt("world_size"),
                        rs.getObject("node_id", UUID.class),
                        Arrays.asList((Integer[]) rs.getArray("held_ranks").getArray()), rs.getBoolean("unusable")),
                runId);
    }

    /**
     * The newest snapshot newer than the durable choice ({@code newerThan}; null: none) whose every shard a node of
     * {@code newNodes} holds, with the snapshots passed over.
     */
    public CheckpointPicker.MemoryPick surviving(UUID runId, Set<UUID> newNodes, Long newerThan) {
        return CheckpointPicker.newestSurvivingSnapshot(holders(runId), newNodes, newerThan);
    }

    /** A restore from it failed (a checksum, or a shard no rank could send): never a restore point again. */
    public boolean markUnusable(UUID runId, long step) {
        return jdbc.update("update memory_snapshot set unusable = true where run_id = ? and step = ?", runId, step) > 0;
    }

    /**
     * A new generation restores {@code step} (null: from scratch): the snapshots after it belong to the discarded
     * trajectory, or were written again by this lineage later.
     */
    public void forgetAfter(UUID runId, Long step) {
        jdbc.update("delete from memory_snapshot where run_id = ? and (?::bigint is null or step > ?)", runId, step,
                step);
    }

    /** The SHA-256 of a snapshot's manifest (the same on every node); null for an unknown snapshot. */
    public String manifestShaAt(UUID runId, long step) {
        return jdbc.query("""
                select manifest_sha from memory_snapshot where run_id = ? and step = ? and not unusable
                order by reported_at desc limit 1""", rs -> rs.next() ? rs.getString(1) : null, runId, step);
    }

    /** The tokens the model at that snapshot had seen; null for an unknown snapshot. */
    public Long tokensSeenAt(UUID runId, long step) {
        return jdbc.query("""
                select tokens_seen from memory_snapshot where run_id = ? and step = ?
                order by reported_at desc limit 1""", rs -> rs.next() ? rs.getLong(1) : null, runId, step);
    }
}
