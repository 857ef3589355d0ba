#!/usr/bin/env bash
# PostgreSQL growth of step metrics per simulated day, before and after the metric roll-up (issue 19), and the
# roll-up's own cost. A database (steadyrun_bench_metrics, recreated) migrated with sql/V*.sql holds one run of RANKS
# ranks, every rank reporting one step every STEP_SECONDS; HOURS simulated hours are written an hour at a time, first
# without the roll-up, then with it (MetricRollup with its default settings after each hour, then VACUUM as
# autovacuum would; the primary key rebuilt at HOURS/2 and at the end, as the job does once a day). Prints table +
# index bytes (pg_total_relation_size) per hour, the growth per simulated day (HOURS, at least 6, scaled to 24) and
# the roll-up's rows per second.
#
#   bench/metrics-storage.sh                    # 992 ranks, a step every 10 s, 8 simulated hours (a third of a day)
#   HOURS=24 bench/metrics-storage.sh           # a whole day (8.6 M rows per phase)
# Needs: JDK 17, the orchestrator's dependencies in ~/.m2 (offline build), PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432,
# user postgres, trust auth), psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_metrics}
RANKS=${RANKS:-992}
PSQL=(psql -h "$PGHOST" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -X)

"${PSQL[@]}" -d postgres -c "drop database if exists $DB" -c "create database $DB"
for f in $(ls sql/V*.sql | sort -V); do
    "${PSQL[@]}" -d "$DB" -f "$f" >/dev/null
done
# one live run in its current generation: the detectors' window (default recovery policy) applies to it
"${PSQL[@]}" -d "$DB" <<SQL
insert into run (id, name, state, state_changed_at, spec, world_size, spares, generation, created_at, created_by,
                 tokens_seen)
values ('00000000-0000-0000-0000-00000000b019', 'metrics-bench', 'RUNNING', now(),
        '{"worldSize": $RANKS, "spares": 0, "checkpointInterval": 1000}', $RANKS, 0, 1, now(),
        'bench', 0);
insert into run_generation (run_id, generation, restore_step, knobs, placed_at, ring_secret)
values ('00000000-0000-0000-0000-00000000b019', 1, null, '{}'::jsonb, now(), decode(md5('1'), 'hex'));
SQL

OUT=bench/out/metrics-storage
mkdir -p "$OUT"
# Compiled here with the bench, so the run does not depend on (or disturb) orchestrator/target/; the reactor's
# classpath names protocol/target/classes, so nothing needs installing in ~/.m2.
./mvnw -B -q -o -pl orchestrator -am compile dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -proc:none -d "$OUT/classes" -cp "$CP" $(find orchestrator/src/main/java -name '*.java') \
    bench/metrics-storage/src/dev/steadyrun/orchestrator/run/MetricStorageBench.java
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $("${PSQL[@]}" -d "$DB" -At -c 'show server_version')"
java -Xmx512m -cp "$OUT/classes:$CP" dev.steadyrun.orchestrator.run.MetricStorageBench \
    --url "jdbc:postgresql://$PGHOST:$PGPORT/$DB" --ranks "$RANKS" --step-seconds "${STEP_SECONDS:-10}" \
    --hours "${HOURS:-8}"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
