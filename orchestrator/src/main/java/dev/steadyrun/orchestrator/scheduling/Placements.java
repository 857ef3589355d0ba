package dev.steadyrun.orchestrator.scheduling;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

/** The {@code placement} table: which node holds which rank (or spare seat) of which generation of a run. */
@Repository
public class Placements {

    /**
     * One row; {@code rank} is null for a spare, else the node's first global rank, and the node holds {@code ranks}
     * consecutive ranks from it (one per local rank).
     */
    public record Row(UUID runId, long generation, UUID nodeId, Integer rank, int ranks, Instant placedAt,
                      Instant releasedAt) {

        /** True when this is a rank seat holding global rank {@code globalRank}. */
        public boolean holds(int globalRank) {
            return rank != null && rank <= globalRank && globalRank < rank + ranks;
        }

        /** The ranks of this seat as people read them: {@code 3}, or {@code 2-3} for a node of two. */
        public String rankLabel() {
            return rank == null ? "spare" : ranks == 1 ? Integer.toString(rank) : rank + "-" + (rank + ranks - 1);
        }
    }

    private final JdbcTemplate jdbc;

    Placements(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    public Set<UUID> activeNodeIds() {
        return new HashSet<>(jdbc.queryForList("select node_id from placement where released_at is null", UUID.class));
    }

    /** A seat of {@code ranks} consecutive ranks from {@code rank} (null: a spare, a whole node). */
    public void insert(UUID runId, long generation, UUID nodeId, Integer rank, int ranks, Instant now) {
        jdbc.update("""
                insert into placement (run_id, generation, node_id, rank, ranks, placed_at)
                values (?, ?, ?, ?, ?, ?)""", runId, generation, nodeId, rank, ranks, Timestamp.from(now));
    }

    /** The rank seat of a generation that holds global rank {@code rank} (its node's seat), released or not. */
    public java.util.Optional<Row> seatOf(UUID runId, long generation, int rank) {
        return ranksOf(runId, generation).stream().filter(r -> r.holds(rank)).findFirst();
    }

    /** Releases the node's seats in this run up to {@code generation}; true when one was held. */
    public boolean release(UUID runId, UUID nodeId, long generation, Instant now) {
        return jdbc.update("""
                update placement set released_at = ?
                where run_id = ? and node_id = ? and generation <= ? and released_at is null""",
                Timestamp.from(now), runId, nodeId, generation) > 0;
    }

    /** Releases the run's spare seats and answers their nodes. */
    public List<UUID> releaseSpares(UUID runId, Instant now) {
        return jdbc.queryForList("""
                update placement set released_at = ?
                where run_id = ? and rank is null and released_at is null returning node_id""",
                UUID.class, Timestamp.from(now), runId);
    }

    /** The rank seats of one generation, released or not, by rank. */
    public List<Row> ranksOf(UUID runId, long generation) {
        return jdbc.query("select * from placement where run_id = ? and generation = ? and rank is not null order by rank",
                this::row, runId, generation);
    }

    /**
     * The rank a node holds in the current generation of a run: its active seat in a STARTING or RUNNING run, or
     * its seat in a RECOVERING run (released or not: the restart has yet to place that rank).
     */
    public java.util.Optional<Row> rankOf(UUID nodeId) {
        return jdbc.query("""
                select p.* from placement p join run r on r.id = p.run_id and r.generation = p.generation
                where p.node_id = ? and p.rank is not null
                  and (p.released_at is null and r.state in ('STARTING', 'RUNNING') or r.state = 'RECOVERING')
                order by p.placed_at desc""", this::row, nodeId).stream().findFirst();
    }

    /**
     * The node's seat in the generation just before its run's current one, when that restart left the node out and
     * has not trained a step yet: the node was judged lost a moment after the restart it would have joined was placed
     * without it (the placement saw it silent).
     */
    public java.util.Optional<Row> leftBehind(UUID nodeId) {
        return jdbc.query("""
                select p.* from placement p
                join run r on r.id = p.run_id and r.generation = p.generation + 1
                join run_generation g on g.run_id = r.id and g.generation = r.generation
                where p.node_id = ? and p.rank is not null and r.state in ('STARTING', 'RUNNING')
                  and g.first_step_at is null
                  and not exists (select 1 from placement q
                                  where q.run_id = r.id and q.generation = r.generation and q.node_id = p.node_id)
                order by p.placed_at desc""", this::row, nodeId).stream().findFirst();
    }

    /** Nodes held for a run that is recovering: its current generation's seats, released or not. */
    Set<UUID> heldForRecovery() {
        return heldForRecoveryOfOthers(null);
    }

    /** {@link #heldForRecovery()} without the seats of {@code runId}. */
    public Set<UUID> heldForRecoveryOfOthers(UUID runId) {
        return new HashSet<>(jdbc.queryForList("""
                select p.node_id from placement p join run r on r.id = p.run_id and r.generation = p.generation
                where r.state = 'RECOVERING' and r.id is distinct from ?::uuid""", UUID.class, runId));
    }

    public List<Row> active(UUID runId) {
        return jdbc.query("select * from placement where run_id = ? and released_at is null", this::row, runId);
    }

    List<Row> history(UUID runId) {
        return jdbc.query("select * from placement where run_id = ? order by generation, rank nulls last, node_id",
                this::row, runId);
    }

    public boolean holdsRank(UUID runId, long generation, UUID nodeId, int rank) {
        Integer n = jdbc.queryForObject("""
                select count(*) from placement
                where run_id = ? and generation = ? and node_id = ? and rank <= ? and ? < rank + ranks
                  and released_at is null""",
                Integer.class, runId, generation, nodeId, rank, rank);
        return n != null && n > 0;
    }

    private Row row(java.sql.ResultSet rs, int i) throws java.sql.SQLException {
        Timestamp released = rs.getTimestamp("released_at");
        return new Row(rs.getObject("run_id", UUID.class), rs.getLong("generation"), rs.getObject("node_id", UUID.class),
                (Integer) rs.getObject("rank"), rs.getInt("ranks"), rs.getTimestamp("placed_at").toInstant(),
                released == null ? null : released.toInstant());
    }
}
