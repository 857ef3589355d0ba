package dev.steadyrun.orchestrator.run;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;

/**
 * Rolls older step metrics of ranks other than 0 up into {@code run_metric_rollup} (one row per run, generation and
 * window of {@code steps-per-row} steps: the rows' count and the min, median and max of every field the metrics API
 * reads), and deletes what is past its retention ({@link MetricRollupProperties}). Rank 0's rows stay (goodput and the
 * run's figures read them), and so do every rank's steps in the current generation's detectors' window
 * ({@link RecoveryPolicy#detectorWindowSteps()}), which an orchestrator restart replays.
 *
 * <p>Each batch is one statement (delete the raw rows, insert their roll-up) in its own short transaction, over a
 * bounded range of steps far behind the ranks' writes, so it locks only rows nobody writes any more. A batch that
 * does not commit leaves its rows raw for the next pass; a window is rolled up only whole, so a pass that stopped
 * half-way continues where it stopped. A row reported again after its window was rolled up (a retry arriving past
 * {@code age}) is folded into the roll-up's count, min and max; its median stays the first roll-up's.
 */
@Service
public class MetricRollup {

    private static final Logger log = LoggerFactory.getLogger(MetricRollup.class);

    /** The run_metric columns rolled up as min, median and max. */
    private static final List<String> FIELDS = List.of("loss", "grad_norm", "loss_scale", "lr", "tokens_per_sec",
            "step_time_ms");

    private final JdbcTemplate jdbc;
    private final RunSpecs specs;
    private final MetricRollupProperties props;
    private final String batchSql;
    /** When run_metric's primary key was last rebuilt, or this process began watching; null before the first pass. */
    private volatile Instant lastReindex;

    MetricRollup(JdbcTemplate jdbc, RunSpecs specs, MetricRollupProperties props) {
        this.jdbc = jdbc;
        this.specs = specs;
        this.props = props;
        this.batchSql = batchSql(props.stepsPerRow());
    }

    /** What the roll-up reads of a run. */
    private record RunRow(UUID id, RunState state, long generation, int worldSize, String spec) {
    }

    /** What one pass did. */
    public record Pass(long rawRowsRolledUp, long rolledUpRowsWritten, int batches) {
    }

    /** What one retention sweep deleted. */
    public record Sweep(long rolledUpRowsDeleted, long rank0RowsDeleted) {
    }

    /** Rolls up everything due at {@code now}, batch by batch. */
    public Pass rollUp(Instant now) {
        Timestamp oldEnough = Timestamp.from(now.minus(props.age()));
        Map<UUID, RunRow> seen = new HashMap<>();
        long raw = 0;
        long written = 0;
        int batches = 0;
        for (Map<String, Object> pending : pendingGenerations()) {
            UUID runId = (UUID) pending.get("run_id");
            long generation = ((Number) pending.get("generation")).longValue();
            RunRow run = seen.computeIfAbsent(runId, this::run);
            if (run == null) {
                continue; // deleted since it was listed; its rows went with it
            }
            Long last = lastStepDue(run, generation, oldEnough);
            if (last == null) {
                continue;
            }
            long w = props.stepsPerRow();
            long end = Math.floorDiv(last + 1, w) * w; // exclusive: whole windows only
            long stepsPerBatch = Math.max(w, props.batchRows() / Math.max(1, run.worldSize() - 1) / w * w);
            Long lowest;
            while ((lowest = lowestWaiting(runId, generation)) != null && lowest < end) {
                long from = Math.floorDiv(lowest, w) * w;
                Map<String, Object> done = jdbc.queryForMap(batchSql, runId, generation, from,
                        Math.min(end, from + stepsPerBatch));
                raw += ((Number) done.get("raw")).longValue();
                written += ((Number) done.get("written")).longValue();
                batches++;
            }
        }
        if (raw > 0) {
            log.info("Rolled up {} step metric rows into {} rows in {} batches", raw, written, batches);
        }
        return new Pass(raw, written, batches);
    }

    /**
     * Deletes rolled-up rows past {@code rolled-up-retention}, and rank 0's rows of runs that ended longer ago than
     * {@code rank0-retention} when that is set; in batches of {@code batch-rows}.
     */
    public Sweep sweepRetention(Instant now) {
        long rolledUp = deleteInBatches("run_metric_rollup", "last_at < ?",
                Timestamp.from(now.minus(props.rolledUpRetention())));
        long rank0 = 0;
        if (props.rank0Retention() != null) {
            List<UUID> ended = jdbc.queryForList("""
                    select id from run r where state = any (?) and state_changed_at < ?
                    and exists (select 1 from run_metric m where m.run_id = r.id and m.rank = 0)""", UUID.class,
                    RunState.TERMINAL.stream().map(Enum::name).toArray(String[]::new),
                    Timestamp.from(now.minus(props.rank0Retention())));
            for (UUID runId : ended) {
                rank0 += deleteInBatches("run_metric", "run_id = ? and rank = 0", runId);
            }
        }
        if (rolledUp + rank0 > 0) {
            log.info("Deleted {} rolled-up step metric rows and {} of rank 0 past their retention", rolledUp, rank0);
        }
        return new Sweep(rolledUp, rank0);
    }

    /**
     * Rebuilds run_metric's primary key ({@code REINDEX CONCURRENTLY}: writers go on) once every
     * {@code reindex-interval}, counted from the first call in this process. Why: the key is ordered by run and step,
     * so rank 0's kept entries sit among the other ranks' rolled-up ones; a leaf page keeping one live entry is never
     * freed, and as steps only grow it never takes a new one either: about 9 KiB a step at 992 ranks until rebuilt
     * (bench/metrics-storage.sh). The rebuild reads only what is kept, which the roll-up keeps small.
     *
     * @return whether it rebuilt the key
     */
    public boolean reindexIfDue(Instant now) {
        if (lastReindex == null) {
            lastReindex = now;
            return false;
        }
        if (now.isBefore(lastReindex.plus(props.reindexInterval()))) {
            return false;
        }
        reindex();
        lastReindex = now;
        return true;
    }

    /** {@code REINDEX INDEX CONCURRENTLY} of run_metric's primary key (never inside a transaction). */
    public void reindex() {
        long t0 = System.nanoTime();
        // a rebuild that was interrupted leaves its new index behind, invalid but still written to: drop it first
        for (String invalid : jdbc.queryForList("""
                select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
                where i.indrelid = 'run_metric'::regclass and not i.indisvalid""", String.class)) {
            jdbc.execute("drop index concurrently if exists \"" + invalid.replace("\"", "\"\"") + "\"");
        }
        jdbc.execute("reindex index concurrently run_metric_pkey");
        log.info("Rebuilt run_metric's primary key in {} ms", (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * The highest step of a generation whose other ranks' rows may be rolled up: rank 0 reported it before
     * {@code oldEnough} (the other ranks' own times when rank 0 reported nothing in that generation), and in a run's
     * current generation it is out of the detectors' window, counted back from rank 0's newest step as the replay
     * after a restart counts it. Null when nothing is due.
     */
    private Long lastStepDue(RunRow run, long generation, Timestamp oldEnough) {
        Long aged = jdbc.queryForObject("""
                select coalesce((select max(step) from run_metric where run_id = ? and generation = ? and rank = 0
                                 and at < ?),
                                case when not exists (select 1 from run_metric
                                                      where run_id = ? and generation = ? and rank = 0)
                                     then (select max(step) from run_metric where run_id = ? and generation = ?
                                           and rank <> 0 and at < ?) end)""", Long.class,
                run.id(), generation, oldEnough, run.id(), generation, run.id(), generation, oldEnough);
        if (aged == null || run.state().isTerminal() || generation != run.generation()) {
            return aged; // only the current generation of a run still training has detectors
        }
        Long newest = jdbc.queryForObject(
                "select max(step) from run_metric where run_id = ? and generation = ? and rank = 0",
                Long.class, run.id(), generation);
        if (newest == null) {
            return null; // the replay would read every step of this generation
        }
        return Math.min(aged, newest - specs.policyOf(run.spec()).detectorWindowSteps());
    }

    private RunRow run(UUID id) {
        List<RunRow> rows = jdbc.query("select state, generation, world_size, spec from run where id = ?",
                (rs, i) -> new RunRow(id, RunState.valueOf(rs.getString("state")), rs.getLong("generation"),
                        rs.getInt("world_size"), rs.getString("spec")), id);
        return rows.isEmpty() ? null : rows.get(0);
    }

    /** Runs and generations with rows of ranks other than 0 (a skip scan over run_metric_ranks_idx). */
    private List<Map<String, Object>> pendingGenerations() {
        return jdbc.queryForList("""
                with recursive pending as (
                    (select run_id, generation from run_metric where rank <> 0 order by run_id, generation limit 1)
                    union all
                    select n.run_id, n.generation from pending p, lateral (
                        select run_id, generation from run_metric
                        where rank <> 0 and (run_id, generation) > (p.run_id, p.generation)
                        order by run_id, generation limit 1) n)
                select run_id, generation from pending""");
    }

    private Long lowestWaiting(UUID runId, long generation) {
        return jdbc.queryForObject("select min(step) from run_metric where run_id = ? and generation = ? and rank <> 0",
                Long.class, runId, generation);
    }

    private long deleteInBatches(String table, String where, Object... args) {
        String sql = "delete from " + table + " where ctid = any (array (select ctid from " + table + " where "
                + where + " limit " + props.batchRows() + "))";
        long total = 0;
        int deleted;
        do {
            deleted = jdbc.update(sql, args);
            total += deleted;
        } while (deleted == props.batchRows());
        return total;
    }

    /**
     * One batch: the other ranks' rows of steps [?, ?) of one generation, deleted and rolled up per window of
     * {@code stepsPerRow} steps. Parameters: run, generation, first step, end step (exclusive).
     */
    private static String batchSql(int stepsPerRow) {
        String stats = FIELDS.stream().map(f -> "min(" + f + "), percentile_cont(0.5) within group (order by " + f
                + "), max(" + f + ")").collect(Collectors.joining(",\n       "));
        String columns = FIELDS.stream().flatMap(f -> Stream.of(f + "_min", f + "_median", f + "_max"))
                .collect(Collectors.joining(", "));
        String merge = FIELDS.stream().map(f -> f + "_min = least(r." + f + "_min, excluded." + f + "_min), " + f
                + "_max = greatest(r." + f + "_max, excluded." + f + "_max)").collect(Collectors.joining(",\n    "));
        return """
                with gone as (
                    delete from run_metric where run_id = ? and generation = ? and rank <> 0 and step >= ? and step < ?
                    returning *),
                written as (
                    insert into run_metric_rollup as r (run_id, generation, first_step, last_step, samples, overflows,
                        %s, first_at, last_at)
                    select run_id, generation, step / %d * %d, max(step), count(*), count(*) filter (where overflow),
                           %s, min(at), max(at)
                    from gone group by run_id, generation, step / %d
                    on conflict (run_id, generation, first_step) do update set
                        last_step = greatest(r.last_step, excluded.last_step),
                        samples = r.samples + excluded.samples, overflows = r.overflows + excluded.overflows,
                        %s,
                        first_at = least(r.first_at, excluded.first_at), last_at = greatest(r.last_at, excluded.last_at)
                    returning 1)
                select (select count(*) from gone) raw, (select count(*) from written) written"""
                .formatted(columns, stepsPerRow, stepsPerRow, stats, stepsPerRow, merge);
    }
}
