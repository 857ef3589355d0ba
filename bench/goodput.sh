#!/usr/bin/env bash
# Goodput query cost on a long run: a database (steadyrun_bench_goodput, recreated) migrated with sql/V*.sql holds
# one run of RANKS ranks x STEPS steps of metrics (every rank reports every step, as the agents do) over GENERATIONS
# generations, each restored a little before where the previous one stopped. Prints the server-side time of the
# goodput query the recovery watch (ProgressWatch) runs for every live run each tick (and the API for every run it lists):
# median of 5 executions after one warm-up, through psql's \timing.
#
#   bench/goodput.sh                       # 64 ranks x 20,000 steps (1.28 M rows), 10 generations
#   RANKS=128 STEPS=50000 bench/goodput.sh
#   QUERY=old bench/goodput.sh              # the query as it was before the rank-0 index and per-generation bounds
#   QUERY=last-step bench/goodput.sh        # the watch's other per-run query: rank 0's newest step (RunTelemetry.lastStep)
# Needs: PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth), psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_goodput}
RANKS=${RANKS:-64}
STEPS=${STEPS:-20000}
GENERATIONS=${GENERATIONS:-10}
PSQL=(psql -h "$PGHOST" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -X)

"${PSQL[@]}" -d postgres -c "drop database if exists $DB" -c "create database $DB"
for f in $(ls sql/V*.sql | sort -V); do
    "${PSQL[@]}" -d "$DB" -f "$f" >/dev/null
done
RUN=00000000-0000-0000-0000-00000000b001
# generation g trains steps [(g-1)*S/G - 50, g*S/G]: each restart restores 50 steps before the last one it reached
"${PSQL[@]}" -d "$DB" <<SQL
insert into run (id, name, state, state_changed_at, spec, world_size, spares, generation, created_at, created_by,
                 tokens_seen)
values ('$RUN', 'goodput-bench', 'RUNNING', now(), '{}', $RANKS, 0, $GENERATIONS, now(), 'bench', 0);
insert into run_generation (run_id, generation, restore_step, knobs, placed_at, ring_secret)
select '$RUN', g, case when g = 1 then null else (g - 1) * $STEPS / $GENERATIONS - 50 end, '{}'::jsonb,
       now() - interval '1 day' + g * interval '1 hour', decode(md5(g::text), 'hex')
from generate_series(1, $GENERATIONS) g;
insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr, tokens_per_sec,
                        step_time_ms, at)
select '$RUN', g, r, s, 3.0, 1.0, 2.0, false, 1e-4, 1000, 500, now()
from generate_series(1, $GENERATIONS) g,
     generate_series(greatest(1, (g - 1) * $STEPS / $GENERATIONS - 49), g * $STEPS / $GENERATIONS) s,
     generate_series(0, $RANKS - 1) r;
analyze;
SQL
ROWS=$("${PSQL[@]}" -d "$DB" -At -c "select count(*) from run_metric")

if [ "${QUERY:-new}" = old ]; then
    "${PSQL[@]}" -d "$DB" -c "drop index if exists run_metric_rank0_idx"
    SQL="select coalesce(sum(m.step_time_ms), 0) from run_metric m
         where m.run_id = '$RUN' and m.rank = 0
           and m.step <= coalesce((select min(coalesce(g.restore_step, -1)) from run_generation g
                                   where g.run_id = m.run_id and g.generation > m.generation), 9223372036854775807)"
elif [ "${QUERY:-new}" = last-step ]; then
    # the query of RunTelemetry.lastStep (the run's step, loss, loss scale and tokens/s gauges)
    SQL="select step, loss, loss_scale, tokens_per_sec from run_metric where run_id = '$RUN' and rank = 0
         order by generation desc, step desc limit 1"
else
    # the query of RunTelemetry.goodput
    SQL="with bound as (
             select g.generation, (select min(coalesce(l.restore_step, -1)) from run_generation l
                                   where l.run_id = g.run_id and l.generation > g.generation) kept_to
             from run_generation g where g.run_id = '$RUN')
         select coalesce(sum(m.step_time_ms), 0) from run_metric m left join bound b on b.generation = m.generation
         where m.run_id = '$RUN' and m.rank = 0 and (b.kept_to is null or m.step <= b.kept_to)"
fi
OUTPUT=$( { echo '\timing on'; for i in 1 2 3 4 5 6; do echo "$SQL;"; done; } | "${PSQL[@]}" -d "$DB" -At)
RESULT=$(echo "$OUTPUT" | grep -v '^Time' | head -1)
TIMES=$(echo "$OUTPUT" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -5 | sort -n)
echo "== query ${QUERY:-new}: $ROWS metric rows ($RANKS ranks, $STEPS steps, $GENERATIONS generations)," \
    "result $RESULT (goodput: productive step time in ms; last-step: step|loss|loss scale|tokens/s)"
echo "   executions (ms, sorted): $(echo $TIMES)  median $(echo "$TIMES" | sed -n 3p) ms"
