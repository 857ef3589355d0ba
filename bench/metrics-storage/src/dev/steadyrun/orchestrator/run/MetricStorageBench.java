package dev.steadyrun.orchestrator.run;

import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.jdbc.core.JdbcTemplate;

import tools.jackson.databind.json.JsonMapper;

/**
 * PostgreSQL growth of step metrics without and with {@link MetricRollup} (driven by bench/metrics-storage.sh, which
 * creates and migrates the database and its one run). Simulates {@code --hours} of one run of {@code --ranks} ranks,
 * every rank reporting one step every {@code --step-seconds}, written an hour at a time (as reports would, in bulk
 * for speed). Phase 1 stores every row (the schema as before the roll-up: its index is dropped for this phase).
 * Phase 2 runs the roll-up with its default settings after each hour written, then a plain VACUUM as autovacuum
 * would, so the space of rolled-up rows is reused, and rebuilds the primary key at the middle and the end (the job
 * does once every reindex-interval). Prints table + index bytes (pg_total_relation_size) as it goes,
 * the growth per simulated day, and the roll-up's rows per second.
 */
public final class MetricStorageBench {

    private static final UUID RUN = UUID.fromString("00000000-0000-0000-0000-00000000b019");
    private static final Instant START = Instant.parse("2030-01-01T00:00:00Z");

    public static void main(String[] args) {
        Map<String, String> a = new java.util.HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int ranks = Integer.parseInt(a.getOrDefault("ranks", "992"));
        int stepSeconds = Integer.parseInt(a.getOrDefault("step-seconds", "10"));
        int hours = Integer.parseInt(a.getOrDefault("hours", "6"));
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(a.getOrDefault("url", "jdbc:postgresql://127.0.0.1:5432/steadyrun_bench_metrics"));
        ds.setUser("postgres");
        JdbcTemplate jdbc = new JdbcTemplate(ds);
        long stepsPerHour = 3600 / stepSeconds;
        System.out.printf("== %d ranks, one step every %d s (%d steps an hour, %,d rows an hour), %d simulated hours%n",
                ranks, stepSeconds, stepsPerHour, stepsPerHour * ranks, hours);

        // phase 1: every row stays
        jdbc.execute("drop index run_metric_ranks_idx");
        System.out.println("-- without roll-up (schema before V30's index)");
        System.out.println("   hour  run_metric rows  run_metric bytes");
        long withoutBytes = 0;
        for (int h = 1; h <= hours; h++) {
            write(jdbc, ranks, stepSeconds, (h - 1) * stepsPerHour, h * stepsPerHour - 1);
            withoutBytes = bytes(jdbc, "run_metric");
            System.out.printf("   %4d  %,15d  %,16d%n", h, rows(jdbc, "run_metric"), withoutBytes);
        }
        double withoutPerDay = withoutBytes * 24.0 / hours;

        // phase 2: the same hours, rolled up after each
        jdbc.execute("truncate run_metric");
        jdbc.execute("create index run_metric_ranks_idx on run_metric (run_id, generation, step) where rank <> 0");
        jdbc.execute("vacuum analyze run_metric");
        MetricRollupProperties props = new MetricRollupProperties(true, Duration.ofMinutes(1), Duration.ofHours(1), 1,
                20_000, Duration.ofDays(90), null, Duration.ofDays(1));
        MetricRollup rollup = new MetricRollup(jdbc, new RunSpecs(JsonMapper.builder().build()), props);
        System.out.printf("-- with roll-up (defaults: age %s, %d step per row, batches of %,d rows; detectors' window"
                + " %d steps), VACUUM after each pass%n", props.age(), props.stepsPerRow(), props.batchRows(),
                RecoveryPolicy.DEFAULT.detectorWindowSteps());
        System.out.println("   hour  run_metric rows  rollup rows  run_metric bytes  (its pkey)  rollup bytes"
                + "  total bytes  rolled up  rows/s  batches  vacuum s");
        long rolled = 0;
        long rollupNanos = 0;
        long secondHourTotal = 0;
        long keyAfterRebuild = 0;
        long keyGrowth = 0;
        long midTotal = 0;
        long total = 0;
        long midCompacted = 0;
        long compacted = 0;
        for (int h = 1; h <= hours; h++) {
            write(jdbc, ranks, stepSeconds, (h - 1) * stepsPerHour, h * stepsPerHour - 1);
            Instant now = START.plusSeconds((long) h * 3600);
            long t0 = System.nanoTime();
            MetricRollup.Pass pass = rollup.rollUp(now);
            long took = System.nanoTime() - t0;
            rolled += pass.rawRowsRolledUp();
            rollupNanos += took;
            long v0 = System.nanoTime();
            jdbc.execute("vacuum run_metric");
            double vacuumSeconds = (System.nanoTime() - v0) / 1e9;
            long raw = bytes(jdbc, "run_metric");
            long up = bytes(jdbc, "run_metric_rollup");
            total = raw + up;
            if (h == 2) {
                secondHourTotal = total;
            }
            if (h == hours / 2) {
                midTotal = total;
            }
            long key = bytes(jdbc, "run_metric_pkey");
            if (h == hours) {
                keyGrowth = key - keyAfterRebuild;
            }
            System.out.printf("   %4d  %,15d  %,11d  %,16d  %,10d  %,12d  %,11d  %,9d  %,6.0f  %7d  %8.1f%n", h,
                    rows(jdbc, "run_metric"), rows(jdbc, "run_metric_rollup"), raw, key, up, total,
                    pass.rawRowsRolledUp(), pass.rawRowsRolledUp() / Math.max(1e-9, took / 1e9), pass.batches(),
                    vacuumSeconds);
            if (h == hours / 2 || h == hours) { // the primary key's rebuild (the job's: once a reindex-interval)
                long r0 = System.nanoTime();
                rollup.reindex();
                long after = bytes(jdbc, "run_metric") + bytes(jdbc, "run_metric_rollup");
                System.out.printf("         after REINDEX CONCURRENTLY of run_metric_pkey (%.1f s): total bytes %,d%n",
                        (System.nanoTime() - r0) / 1e9, after);
                if (h == hours / 2) {
                    midCompacted = after;
                    keyAfterRebuild = bytes(jdbc, "run_metric_pkey");
                } else {
                    compacted = after;
                }
            }
        }
        // from hour 2 (the first pass with anything to roll up) to the first rebuild of the key
        double withPerDay = (midTotal - secondHourTotal) * 24.0 / (hours / 2 - 2);
        double keyPerDay = keyGrowth * 24.0 / (hours - hours / 2);
        double compactedPerDay = (compacted - midCompacted) * 24.0 / (hours - hours / 2);
        System.out.printf("== growth per simulated day (%d h scaled to 24 h): without roll-up %,.0f bytes (%.2f GiB);"
                + " with roll-up, before the key's rebuild, %,.0f bytes (%.1f MiB, from hours %d..%d); %.0fx less%n", hours,
                withoutPerDay, withoutPerDay / (1L << 30), withPerDay, withPerDay / (1L << 20), 2, hours / 2,
                withoutPerDay / Math.max(1, withPerDay));
        System.out.printf("== with roll-up, between two rebuilds of the primary key (hours %d and %d): %,.0f bytes per"
                + " simulated day (%.1f MiB); meanwhile the primary key grew by %,.0f bytes per simulated day (%.1f MiB)"
                + " until rebuilt%n", hours / 2, hours, compactedPerDay, compactedPerDay / (1L << 20), keyPerDay,
                keyPerDay / (1L << 20));
        System.out.printf("== roll-up: %,d rows in %.1f s, %,.0f rows/s%n", rolled, rollupNanos / 1e9,
                rolled / (rollupNanos / 1e9));
    }

    /** Every rank's steps from..to, step s at START + s × stepSeconds. */
    private static void write(JdbcTemplate jdbc, int ranks, int stepSeconds, long from, long to) {
        jdbc.update("""
                insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr,
                                        tokens_per_sec, step_time_ms, at)
                select ?, 1, r, s, 2.5 + random() * 0.05, 0.3 + random() * 0.1, 32768, random() < 0.001, 6e-5,
                       1900 + random() * 200, 9500 + random() * 1000, ?::timestamptz + s * ? * interval '1 second'
                from generate_series(?::bigint, ?::bigint) s, generate_series(0, ? - 1) r""",
                RUN, Timestamp.from(START), stepSeconds, from, to, ranks);
    }

    private static long bytes(JdbcTemplate jdbc, String table) {
        return jdbc.queryForObject("select pg_total_relation_size(?::regclass)", Long.class, table);
    }

    private static long rows(JdbcTemplate jdbc, String table) {
        return jdbc.queryForObject("select count(*) from " + table, Long.class);
    }
}
