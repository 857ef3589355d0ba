package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import tools.jackson.databind.JsonNode;

/**
 * The step metric roll-up on real PostgreSQL: each test places its own run (8 ranks) and fills its metrics directly,
 * one step every 10 s from {@link #base}, then runs {@link MetricRollup} with its own settings and an explicit time.
 * Expected roll-ups are computed here from the raw rows read back before the roll-up.
 */
class MetricRollupTest extends RunsApiSupport {

    private static final int RANKS = 8;
    private static final List<String> FIELDS = List.of("loss", "grad_norm", "loss_scale", "lr", "tokens_per_sec",
            "step_time_ms");

    @Autowired
    RunRepository runs;
    @Autowired
    RunSpecs specs;
    @Autowired
    RunTelemetry telemetry;
    @Autowired
    PlatformTransactionManager transactions;

    /** The time of step 0 of every test's metrics. */
    private final Instant base = Instant.parse("2029-06-01T00:00:00Z");

    @Test
    void rollsUpEveryRankButZeroToMinMedianMaxOutsideTheDetectorWindow() {
        // the run's own policy widens the detectors' window to 300 steps (its straggler window)
        Filled run = placedAndFilled(Map.of("stragglerWindowSteps", 300));
        String operator = run.operator();
        UUID runId = run.runId();
        long generation = run.generation();
        assertThat(specs.policyOf(runs.findById(runId).orElseThrow()).detectorWindowSteps()).isEqualTo(300);
        fill(runId, generation - 1, 0, 499, base.minusSeconds(20_000)); // an older generation: no detectors
        Instant now = base.plusSeconds(10_000); // step 1000's time
        List<Map<String, Object>> window = windowRows(runId, generation, 300);
        Map<Long, Map<Long, List<Map<String, Object>>>> due = raw(runId);
        JsonNode chart = chart(operator, runId, 37);
        JsonNode wholeChart = chart(operator, runId, 10_000);
        Double goodput = telemetry.goodput(runId, RunState.STARTING, now, now);

        // 10 minutes of age reach step 939; the detectors' window (300 back from 999) stops it at step 699
        MetricRollup.Pass pass = rollup(Duration.ofMinutes(10), 1, 20_000, null).rollUp(now);

        assertThat(pass.rawRowsRolledUp()).isGreaterThanOrEqualTo((700 + 500) * (RANKS - 1));
        assertThat(count("run_metric where run_id = '" + runId + "' and rank = 0")).isEqualTo(1000 + 500);
        assertThat(count("run_metric where run_id = '" + runId + "' and rank <> 0 and generation = " + generation))
                .isEqualTo(300 * (RANKS - 1));
        assertThat(count("run_metric where run_id = '" + runId + "' and rank <> 0 and generation = " + generation
                + " and step < 700")).isZero();
        assertThat(count("run_metric where run_id = '" + runId + "' and rank <> 0 and generation = "
                + (generation - 1))).isZero();
        assertThat(rolledUp(runId)).isEqualTo(1200);
        assertMatches(runId, generation, expected(due, generation, 699, 1), 1);
        assertMatches(runId, generation - 1, expected(due, generation - 1, 499, 1), 1);
        // what the detectors replay after a restart, the chart and goodput are exactly as before
        assertThat(windowRows(runId, generation, 300)).isEqualTo(window);
        assertThat(chart(operator, runId, 37)).isEqualTo(chart);
        assertThat(chart(operator, runId, 10_000)).isEqualTo(wholeChart);
        assertThat(telemetry.goodput(runId, RunState.STARTING, now, now)).isEqualTo(goodput);
    }

    @Test
    void windowsOfStepsAreRolledUpWhole() {
        Filled run = placedAndFilled(Map.of());
        Map<Long, Map<Long, List<Map<String, Object>>>> due = raw(run.runId());
        long samples = samples(chart(run.operator(), run.runId(), 100));

        // due up to step 899 (the default policy's 100-step window); the window of steps 896..959 is not whole yet
        rollup(Duration.ofMinutes(10), 64, 20_000, null).rollUp(base.plusSeconds(10_000));

        assertThat(count("run_metric where run_id = '" + run.runId() + "' and rank <> 0 and step < 896")).isZero();
        assertThat(count("run_metric where run_id = '" + run.runId()
                + "' and rank <> 0 and step between 896 and 899")).isEqualTo(4 * (RANKS - 1));
        assertThat(jdbc.queryForList("select first_step from run_metric_rollup where run_id = ? order by 1",
                Long.class, run.runId())).hasSize(14).allMatch(s -> s % 64 == 0);
        assertMatches(run.runId(), run.generation(), expected(due, run.generation(), 895, 64), 64);
        assertThat(samples(chart(run.operator(), run.runId(), 100))).isEqualTo(samples).isEqualTo(1000L * RANKS);
    }

    @Test
    void passesAreBoundedRestartableAndIdempotent() {
        Filled run = placedAndFilled(Map.of());
        Map<Long, Map<Long, List<Map<String, Object>>>> due = raw(run.runId());
        MetricRollup small = rollup(Duration.ofMinutes(10), 1, 100, null); // 14 steps (98 rows) a batch

        // a pass that does not commit leaves every row raw
        new TransactionTemplate(transactions).executeWithoutResult(tx -> {
            small.rollUp(base.plusSeconds(10_000));
            tx.setRollbackOnly();
        });
        assertThat(rolledUp(run.runId())).isZero();
        assertThat(count("run_metric where run_id = '" + run.runId() + "'")).isEqualTo(1000L * RANKS);

        // a pass cut short (here by an earlier time: steps up to 439), then the rest
        MetricRollup.Pass first = small.rollUp(base.plusSeconds(5_000));
        assertThat(first.batches()).isGreaterThanOrEqualTo(32); // ceil(440 / 14)
        assertThat(rolledUp(run.runId())).isEqualTo(440);
        small.rollUp(base.plusSeconds(10_000));
        assertThat(rolledUp(run.runId())).isEqualTo(900);
        assertMatches(run.runId(), run.generation(), expected(due, run.generation(), 899, 1), 1);

        // again at the same time: nothing left to do, nothing changes
        List<Map<String, Object>> rows = rollupRows(run.runId());
        MetricRollup.Pass again = small.rollUp(base.plusSeconds(10_000));
        assertThat(again.rawRowsRolledUp()).isZero();
        assertThat(rollupRows(run.runId())).isEqualTo(rows);

        // a retried report of a step already rolled up is folded into its count, min and max
        Map<String, Object> step5 = rows.get(5);
        jdbc.update("""
                insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr,
                                        tokens_per_sec, step_time_ms, at)
                values (?, ?, 4, 5, 100, 1, 4, true, 1e-4, 1000, 500, ?)""", run.runId(), run.generation(),
                Timestamp.from(base.plusSeconds(50)));
        small.rollUp(base.plusSeconds(10_000));
        Map<String, Object> folded = rollupRows(run.runId()).get(5);
        assertThat(folded.get("samples")).isEqualTo((Integer) step5.get("samples") + 1);
        assertThat(folded.get("overflows")).isEqualTo((Integer) step5.get("overflows") + 1);
        assertThat(folded.get("loss_max")).isEqualTo(100.0);
        assertThat(folded.get("loss_min")).isEqualTo(step5.get("loss_min"));
        assertThat(folded.get("loss_median")).isEqualTo(step5.get("loss_median"));

        // the primary key is rebuilt a reindex-interval after the first call, without losing a row
        Instant t = base.plusSeconds(10_000);
        long rows0 = count("run_metric where run_id = '" + run.runId() + "'");
        assertThat(small.reindexIfDue(t)).isFalse();
        assertThat(small.reindexIfDue(t.plus(Duration.ofHours(23)))).isFalse();
        assertThat(small.reindexIfDue(t.plus(Duration.ofDays(1)))).isTrue();
        assertThat(small.reindexIfDue(t.plus(Duration.ofDays(1)).plusSeconds(60))).isFalse();
        assertThat(count("run_metric where run_id = '" + run.runId() + "'")).isEqualTo(rows0);
        assertThat(jdbc.queryForObject("select indisvalid from pg_index where indexrelid = 'run_metric_pkey'::regclass",
                Boolean.class)).isTrue();
    }

    @Test
    void retentionDeletesOnlyWhatItShould() {
        String operator = token("OPERATOR");
        UUID live = placedRun(operator, Map.of());
        long generation = generationOf(live);
        // a run that ended at `ended`, as the run table keeps it
        Instant ended = base.plus(Duration.ofDays(200));
        UUID done = UUID.randomUUID();
        jdbc.update("""
                insert into run (id, name, state, state_changed_at, spec, world_size, spares, generation, created_at,
                                 created_by, tokens_seen)
                select ?, 'ended', 'CANCELLED', ?, spec, world_size, spares, generation, created_at, created_by, 0
                from run where id = ?""", done, Timestamp.from(ended), live);
        for (UUID run : List.of(live, done)) {
            fill(run, generation, 0, 99, base);                                 // rolled up, past 90 days at the sweep
            fill(run, generation, 100, 199, base.plus(Duration.ofDays(150)));   // rolled up, within 90 days
            fill(run, generation, 1000, 1099, ended.minus(Duration.ofDays(1))); // left raw
        }
        // rank 0's rows only are past their retention
        rollup(Duration.ofDays(30), 1, 20_000, null).rollUp(base.plus(Duration.ofDays(190)));
        assertThat(rolledUp(live)).isEqualTo(200);
        assertThat(rolledUp(done)).isEqualTo(200);

        MetricRollup keepRank0 = rollup(Duration.ofDays(30), 1, 100, null);
        keepRank0.sweepRetention(ended.plus(Duration.ofDays(3)));
        for (UUID run : List.of(live, done)) {
            assertThat(jdbc.queryForList("select first_step from run_metric_rollup where run_id = ? order by 1",
                    Long.class, run)).as("rolled-up rows within 90 days").hasSize(100).allMatch(s -> s >= 100);
            assertThat(count("run_metric where run_id = '" + run + "' and rank = 0")).isEqualTo(300);
            assertThat(count("run_metric where run_id = '" + run + "' and rank <> 0")).isEqualTo(100 * (RANKS - 1));
        }

        // with a rank-0 retention of 2 days: not yet a day after the run ended, then 3 days after; never a live run's
        MetricRollup dropRank0 = rollup(Duration.ofDays(30), 1, 100, Duration.ofDays(2));
        assertThat(dropRank0.sweepRetention(ended.plus(Duration.ofDays(1))).rank0RowsDeleted()).isZero();
        assertThat(count("run_metric where run_id = '" + done + "' and rank = 0")).isEqualTo(300);
        MetricRollup.Sweep sweep = dropRank0.sweepRetention(ended.plus(Duration.ofDays(3)));
        assertThat(sweep.rank0RowsDeleted()).isEqualTo(300);
        assertThat(count("run_metric where run_id = '" + done + "' and rank = 0")).isZero();
        assertThat(count("run_metric where run_id = '" + done + "' and rank <> 0")).isEqualTo(100 * (RANKS - 1));
        assertThat(count("run_metric where run_id = '" + live + "' and rank = 0")).isEqualTo(300);
        assertThat(rolledUp(done)).isEqualTo(100);
    }

    // --- the run and its metrics

    private record Filled(String operator, UUID runId, long generation) {
    }

    /** A placed run whose current generation holds every rank's steps 0..999 (step s at base + 10 s × s). */
    private Filled placedAndFilled(Map<String, Object> policy) {
        String operator = token("OPERATOR");
        UUID runId = placedRun(operator, policy);
        long generation = generationOf(runId);
        fill(runId, generation, 0, 999, base);
        return new Filled(operator, runId, generation);
    }

    private UUID placedRun(String operator, Map<String, Object> policy) {
        String rack = newRack();
        fleet(rack, RANKS);
        Map<String, Object> spec = tinyRun(rack, RANKS, 0);
        spec.put("recoveryPolicy", policy);
        Reply created = call("POST", "/api/v1/runs", operator, spec);
        assertThat(created.status()).as(created.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(created.body().get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        return runId;
    }

    private long generationOf(UUID runId) {
        return jdbc.queryForObject("select generation from run where id = ?", Long.class, runId);
    }

    /** Every rank's steps {@code from..to}, step s at {@code at0 + 10 s × (s - from)}, values varying by rank, step. */
    private void fill(UUID runId, long generation, long from, long to, Instant at0) {
        jdbc.update("""
                insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr,
                                        tokens_per_sec, step_time_ms, at)
                select ?, ?, r, s, 2 + sin(s * 0.37 + r * 1.3), 0.5 + abs(cos(s * 0.11 + r)),
                       case when (s + r) % 17 = 0 then 0.5 else 4.0 end * (1 + r % 3), (s * 7 + r) % 23 = 0,
                       1e-4 * (1 + s % 5), 1000 + 10 * ((s * 31 + r * 7) % 13), 500 + ((s * 13 + r * 29) % 41),
                       ?::timestamptz + (s - ?) * interval '10 seconds'
                from generate_series(?::bigint, ?::bigint) s, generate_series(0, ? - 1) r""",
                runId, generation, Timestamp.from(at0), from, from, to, RANKS);
    }

    /** The rows a rebuild of the detectors replays (RunWatches: the latest {@code window} steps of rank 0's). */
    private List<Map<String, Object>> windowRows(UUID runId, long generation, int window) {
        return jdbc.queryForList("""
                select rank, step, loss, grad_norm, loss_scale, overflow, lr, tokens_per_sec, step_time_ms
                from run_metric where run_id = ? and generation = ?
                  and step > (select coalesce(max(step), 0) from run_metric
                              where run_id = ? and generation = ? and rank = 0) - ?
                order by step, rank""", runId, generation, runId, generation, window);
    }

    private JsonNode chart(String operator, UUID runId, int maxPoints) {
        Reply r = call("GET", "/api/v1/runs/" + runId + "/metrics?maxPoints=" + maxPoints, operator, null);
        assertThat(r.status()).isEqualTo(200);
        return r.body();
    }

    private static long samples(JsonNode chart) {
        long n = 0;
        for (JsonNode p : chart.get("points")) {
            n += p.get("samples").asLong();
        }
        return n;
    }

    private MetricRollup rollup(Duration age, int stepsPerRow, int batchRows, Duration rank0Retention) {
        return new MetricRollup(jdbc, specs, new MetricRollupProperties(false, Duration.ofMinutes(1), age,
                stepsPerRow, batchRows, Duration.ofDays(90), rank0Retention, Duration.ofDays(1)));
    }

    private long rolledUp(UUID runId) {
        return count("run_metric_rollup where run_id = '" + runId + "'");
    }

    private List<Map<String, Object>> rollupRows(UUID runId) {
        return jdbc.queryForList("select * from run_metric_rollup where run_id = ? order by generation, first_step",
                runId);
    }

    // --- the direct computation

    /** The other ranks' raw rows of a run, read before the roll-up: generation -> step -> rows. */
    private Map<Long, Map<Long, List<Map<String, Object>>>> raw(UUID runId) {
        Map<Long, Map<Long, List<Map<String, Object>>>> byGeneration = new HashMap<>();
        jdbc.query("select * from run_metric where run_id = ? and rank <> 0", rs -> {
            Map<String, Object> row = new HashMap<>();
            for (String f : FIELDS) {
                row.put(f, rs.getDouble(f));
            }
            row.put("overflow", rs.getBoolean("overflow"));
            row.put("at", rs.getTimestamp("at").toInstant());
            byGeneration.computeIfAbsent(rs.getLong("generation"), g -> new TreeMap<>())
                    .computeIfAbsent(rs.getLong("step"), st -> new ArrayList<>()).add(row);
        }, runId);
        return byGeneration;
    }

    /** One expected roll-up row. */
    private record Expected(long firstStep, long lastStep, int samples, int overflows, Map<String, double[]> stats,
                            Instant firstAt, Instant lastAt) {
    }

    /** Steps up to {@code last} of a generation, in windows of {@code stepsPerRow}: first step -> expected row. */
    private static Map<Long, Expected> expected(Map<Long, Map<Long, List<Map<String, Object>>>> raw, long generation,
                                                long last, int stepsPerRow) {
        Map<Long, List<Map<String, Object>>> steps = raw.get(generation);
        Map<Long, List<Map<String, Object>>> windows = new TreeMap<>();
        Map<Long, Long> lastStep = new HashMap<>();
        steps.forEach((step, rows) -> {
            if (step <= last) {
                long first = step / stepsPerRow * stepsPerRow;
                windows.computeIfAbsent(first, f -> new ArrayList<>()).addAll(rows);
                lastStep.merge(first, step, Math::max);
            }
        });
        Map<Long, Expected> expected = new TreeMap<>();
        windows.forEach((first, rows) -> {
            Map<String, double[]> stats = new HashMap<>();
            for (String f : FIELDS) {
                double[] v = rows.stream().mapToDouble(r -> (Double) r.get(f)).sorted().toArray();
                int n = v.length;
                double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
                stats.put(f, new double[] {v[0], median, v[n - 1]});
            }
            int overflows = (int) rows.stream().filter(r -> (Boolean) r.get("overflow")).count();
            Instant firstAt = rows.stream().map(r -> (Instant) r.get("at")).min(Instant::compareTo).orElseThrow();
            Instant lastAt = rows.stream().map(r -> (Instant) r.get("at")).max(Instant::compareTo).orElseThrow();
            expected.put(first, new Expected(first, lastStep.get(first), rows.size(), overflows, stats, firstAt,
                    lastAt));
        });
        return expected;
    }

    private void assertMatches(UUID runId, long generation, Map<Long, Expected> expected, int stepsPerRow) {
        Map<Long, Map<String, Object>> actual = new TreeMap<>();
        for (Map<String, Object> row : rollupRows(runId)) {
            if (((Number) row.get("generation")).longValue() == generation) {
                actual.put(((Number) row.get("first_step")).longValue(), row);
            }
        }
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        expected.forEach((first, e) -> {
            Map<String, Object> row = actual.get(first);
            assertThat(first % stepsPerRow).isZero();
            assertThat(((Number) row.get("last_step")).longValue()).isEqualTo(e.lastStep());
            assertThat(row.get("samples")).as("samples of %d", first).isEqualTo(e.samples());
            assertThat(row.get("overflows")).as("overflows of %d", first).isEqualTo(e.overflows());
            for (String f : FIELDS) {
                double[] s = e.stats().get(f);
                assertThat((Double) row.get(f + "_min")).as("%s_min of %d", f, first).isEqualTo(s[0]);
                // percentile_cont interpolates between the middle two as a + (b - a) / 2: the same to rounding
                assertThat((Double) row.get(f + "_median")).as("%s_median of %d", f, first)
                        .isCloseTo(s[1], within(Math.abs(s[1]) * 1e-12));
                assertThat((Double) row.get(f + "_max")).as("%s_max of %d", f, first).isEqualTo(s[2]);
            }
            assertThat(((Timestamp) row.get("first_at")).toInstant()).isEqualTo(e.firstAt());
            assertThat(((Timestamp) row.get("last_at")).toInstant()).isEqualTo(e.lastAt());
        });
    }
}
