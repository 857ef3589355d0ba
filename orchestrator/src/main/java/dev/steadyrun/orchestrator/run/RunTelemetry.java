package dev.steadyrun.orchestrator.run;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import dev.steadyrun.protocol.StepMetrics;

/**
 * Step metrics of runs ({@code run_metric}, written only here; older rows of ranks other than 0 are rolled up into
 * {@code run_metric_rollup} by {@link MetricRollup}) and the figures read from them, in plain JDBC: reports are
 * written with one batched insert each, and the metrics chart is downsampled by PostgreSQL so that a run of 100k
 * steps comes back as a few hundred rows.
 */
@Repository
public class RunTelemetry {

    private final JdbcTemplate jdbc;

    RunTelemetry(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** Stores the steps of one rank; steps already stored (a retried report) are skipped. */
    public void storeSteps(UUID runId, long generation, int rank, List<StepMetrics> steps, Instant at) {
        Timestamp ts = Timestamp.from(at);
        jdbc.batchUpdate("""
                insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr,
                                        tokens_per_sec, step_time_ms, at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing""", steps, 500, (ps, s) -> {
            ps.setObject(1, runId);
            ps.setLong(2, generation);
            ps.setInt(3, rank);
            ps.setLong(4, s.step());
            ps.setDouble(5, s.loss());
            ps.setDouble(6, s.gradNorm());
            ps.setDouble(7, s.lossScale());
            ps.setBoolean(8, s.overflow());
            ps.setDouble(9, s.lr());
            ps.setDouble(10, s.tokensPerSec());
            ps.setDouble(11, s.stepTimeMs());
            ps.setTimestamp(12, ts);
        });
    }

    /**
     * The newest step a rank of a generation reported; null before its first. Asked of a trainer of the current
     * generation as it exits: its steps in the detectors' window are never rolled up ({@link MetricRollup}).
     */
    public Long lastStepOf(UUID runId, long generation, int rank) {
        return jdbc.queryForObject("select max(step) from run_metric where run_id = ? and generation = ? and rank = ?",
                Long.class, runId, generation, rank);
    }

    /** Rank 0's newest step (the run's loss and throughput: rank 0 reports the whole step's figures). */
    public record LastStep(long step, double loss, double lossScale, double tokensPerSec) {
    }

    /**
     * Rank 0's newest step of a run, of the newest generation that reported one (a restarted generation's first
     * steps replace the old generation's, which may be further ahead before a rollback); null before any step.
     */
    public LastStep lastStep(UUID runId) {
        List<LastStep> rows = jdbc.query("""
                select step, loss, loss_scale, tokens_per_sec from run_metric where run_id = ? and rank = 0
                order by generation desc, step desc limit 1""", (rs, i) -> new LastStep(rs.getLong("step"),
                rs.getDouble("loss"), rs.getDouble("loss_scale"), rs.getDouble("tokens_per_sec")), runId);
        return rows.isEmpty() ? null : rows.get(0);
    }

    /**
     * The run's chart, downsampled: raw rows and rolled-up rows ({@link MetricRollup}) together, so a bucket's loss
     * min and max, overflows and samples count every rank's steps as before the roll-up; its last values are rank
     * 0's, which is never rolled up. A rolled-up row falls in the bucket of its window's first step.
     */
    public MetricsResponse metrics(UUID runId, long fromStep, long toStep, int maxPoints) {
        Map<String, Object> range = jdbc.queryForMap("""
                select least((select min(step) from run_metric where run_id = ? and step between ? and ?),
                             (select min(first_step) from run_metric_rollup where run_id = ?
                              and first_step between ? and ?)) lo,
                       greatest((select max(step) from run_metric where run_id = ? and step between ? and ?),
                                (select max(last_step) from run_metric_rollup where run_id = ?
                                 and first_step between ? and ?)) hi""",
                runId, fromStep, toStep, runId, fromStep, toStep, runId, fromStep, toStep, runId, fromStep, toStep);
        if (range.get("lo") == null) {
            return new MetricsResponse(runId, fromStep, toStep, 1, List.of());
        }
        long lo = ((Number) range.get("lo")).longValue();
        long hi = ((Number) range.get("hi")).longValue();
        long width = Math.max(1, (hi - lo + maxPoints) / maxPoints); // ceil((hi - lo + 1) / maxPoints)
        // "last" is the newest generation's rank 0 at the bucket's highest step; a rolled-up row sorts after the raw
        // rows of its step and generation
        List<MetricsResponse.Point> points = jdbc.query("""
                with rows as (
                    select step first_step, step last_step, generation, rank, loss loss_min, loss loss_max, loss,
                           grad_norm, loss_scale, lr, tokens_per_sec, step_time_ms,
                           case when overflow then 1 else 0 end overflows, 1 samples
                    from run_metric where run_id = ? and step between ? and ?
                    union all
                    select first_step, last_step, generation, 2147483647, loss_min, loss_max, loss_median,
                           grad_norm_median, loss_scale_median, lr_median, tokens_per_sec_median, step_time_ms_median,
                           overflows, samples
                    from run_metric_rollup where run_id = ? and first_step between ? and ?)
                select min(first_step) first_step, max(last_step) last_step, min(loss_min) loss_min,
                       max(loss_max) loss_max,
                       (array_agg(loss order by last_step desc, generation desc, rank))[1] loss_last,
                       (array_agg(grad_norm order by last_step desc, generation desc, rank))[1] grad_norm,
                       (array_agg(loss_scale order by last_step desc, generation desc, rank))[1] loss_scale,
                       (array_agg(lr order by last_step desc, generation desc, rank))[1] lr,
                       (array_agg(tokens_per_sec order by last_step desc, generation desc, rank))[1] tokens_per_sec,
                       (array_agg(step_time_ms order by last_step desc, generation desc, rank))[1] step_time_ms,
                       sum(overflows) overflows, sum(samples) samples
                from rows group by (first_step - ?) / ? order by 1""", RunTelemetry::point, runId, lo, hi, runId,
                lo, hi, lo, width);
        return new MetricsResponse(runId, fromStep, toStep, width, points);
    }

    /** The recovery figures of a run's API answer. */
    public record RecoveryFigures(int restarts, Double goodput, int openIncidents) {
    }

    public RecoveryFigures recoveryFigures(UUID runId, RunState state, Instant stateChangedAt, Instant now) {
        Map<String, Object> counts = jdbc.queryForMap("""
                select (select count(*) from run_generation where run_id = ? and cause_incident_id is not null) restarts,
                       (select count(*) from incident where run_id = ?
                        and state in ('OPEN', 'RECOVERING', 'NEEDS_HUMAN')) open_incidents""", runId, runId);
        return new RecoveryFigures(((Number) counts.get("restarts")).intValue(), goodput(runId, state, stateChangedAt, now),
                ((Number) counts.get("open_incidents")).intValue());
    }

    /**
     * Goodput: productive training time ÷ wall time since the first placement, at most 1. Productive time is the
     * summed step time of rank 0's steps that still count toward the run's progress: a step of generation g counts
     * unless a later generation restored from a checkpoint older than it (a rollback or a restart threw it away).
     * Wall time ends now, or when a run that no longer trains (paused, ended) stopped. Null before any placement.
     */
    public Double goodput(UUID runId, RunState state, Instant stateChangedAt, Instant now) {
        Timestamp first = jdbc.queryForObject("select min(placed_at) from placement where run_id = ?",
                Timestamp.class, runId);
        if (first == null) {
            return null;
        }
        Instant end = state == RunState.PAUSED || state.isTerminal() ? stateChangedAt : now;
        double wallMs = end.toEpochMilli() - first.toInstant().toEpochMilli();
        if (wallMs <= 0) {
            return null;
        }
        // the bound per generation first (a few rows), then one pass over rank 0's steps (run_metric_rank0_idx)
        Double productiveMs = jdbc.queryForObject("""
                with bound as (
                    select g.generation, (select min(coalesce(l.restore_step, -1)) from run_generation l
                                          where l.run_id = g.run_id and l.generation > g.generation) kept_to
                    from run_generation g where g.run_id = ?)
                select coalesce(sum(m.step_time_ms), 0) from run_metric m left join bound b on b.generation = m.generation
                where m.run_id = ? and m.rank = 0 and (b.kept_to is null or m.step <= b.kept_to)""",
                Double.class, runId, runId);
        return Math.min(1.0, (productiveMs == null ? 0 : productiveMs) / wallMs);
    }

    private static MetricsResponse.Point point(ResultSet rs, int i) throws SQLException {
        return new MetricsResponse.Point(rs.getLong("first_step"), rs.getLong("last_step"), rs.getDouble("loss_min"),
                rs.getDouble("loss_max"), rs.getDouble("loss_last"), rs.getDouble("grad_norm"),
                rs.getDouble("loss_scale"), rs.getDouble("lr"), rs.getDouble("tokens_per_sec"),
                rs.getDouble("step_time_ms"), rs.getLong("overflows"), rs.getLong("samples"));
    }
}
