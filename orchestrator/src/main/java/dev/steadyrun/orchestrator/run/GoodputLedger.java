package dev.steadyrun.orchestrator.run;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

/**
 * The goodput breakdown of a run, derived from what is recorded already: the run's state history ({@code run_event}),
 * its generations' restore steps and rank 0's step reports. Wall time runs from the first placement to now (or to
 * the run's end) and is cut by state: RUNNING is training, STARTING and RECOVERING are restart, PENDING is waiting
 * for nodes and so is RECOVERING from the note of a restart that found no gang ({@link RunStateMachine#WAITING_FOR_NODES})
 * to the next transition, PAUSING, PAUSED and CANCELLING are paused. A generation's training is productive up to the report of
 * the last step the later generations kept (the lowest restore step after it) and lost work from there to the
 * generation's stop, so the discarded steps and the time until the failure was acted on count as lost work. Times
 * have the resolution of the trainer's reports: a step is timed by the report that carried it.
 */
@Repository
public class GoodputLedger {

    private final JdbcTemplate jdbc;

    GoodputLedger(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** A row of the run's history: a transition, or a note ({@code from == to}) such as a restart's wait. */
    private record Transition(Instant at, RunState from, RunState to, long generation, String reason) {

        boolean isNote() {
            return from == to;
        }
    }

    /** A generation's kept steps: {@code keptTo} null when no later generation discarded any. */
    private record Kept(Long keptTo, Instant keptAt) {
    }

    /** The breakdown as of {@code now}; null before the run's first placement. */
    public GoodputResponse breakdown(UUID runId, Instant now) {
        Timestamp placed = jdbc.queryForObject("select min(placed_at) from placement where run_id = ?",
                Timestamp.class, runId);
        if (placed == null) {
            return null;
        }
        Instant from = placed.toInstant();
        List<Transition> history = jdbc.query("""
                select at, from_state, to_state, generation, reason from run_event where run_id = ? order by id""",
                (rs, i) -> new Transition(rs.getTimestamp("at").toInstant(),
                        rs.getString("from_state") == null ? null : RunState.valueOf(rs.getString("from_state")),
                        RunState.valueOf(rs.getString("to_state")), rs.getLong("generation"), rs.getString("reason")),
                runId);
        // the kept bound's report: one probe of run_metric_rank0_idx per generation (a step's report is never
        // earlier than a lower step's: a trainer reports in step order)
        Map<Long, Kept> kept = new HashMap<>();
        jdbc.query("""
                select g.generation, b.kept_to,
                       (select m.at from run_metric m where m.run_id = g.run_id and m.generation = g.generation
                        and m.rank = 0 and m.step <= b.kept_to order by m.step desc limit 1) kept_at
                from run_generation g cross join lateral (
                    select min(coalesce(l.restore_step, -1)) kept_to from run_generation l
                    where l.run_id = g.run_id and l.generation > g.generation) b
                where g.run_id = ?""", rs -> {
            Timestamp at = rs.getTimestamp("kept_at");
            kept.put(rs.getLong("generation"), new Kept((Long) rs.getObject("kept_to", Long.class),
                    at == null ? null : at.toInstant()));
        }, runId);
        long productive = 0, lost = 0, restart = 0, waiting = 0, paused = 0;
        Instant to = now;
        boolean restartWaits = false; // a RECOVERING run's restart found no gang: waiting until its next transition
        for (int i = 0; i < history.size(); i++) {
            Transition t = history.get(i);
            restartWaits = t.isNote() && (restartWaits || t.reason().startsWith(RunStateMachine.WAITING_FOR_NODES));
            if (t.to().isTerminal()) {
                to = t.at().isBefore(from) ? from : t.at();
                break;
            }
            Instant start = max(t.at(), from);
            Instant end = i + 1 < history.size() ? min(history.get(i + 1).at(), now) : now;
            if (!end.isAfter(start)) {
                continue;
            }
            long ms = end.toEpochMilli() - start.toEpochMilli();
            switch (t.to()) {
                case RUNNING -> {
                    Kept k = kept.get(t.generation());
                    long keptMs = k == null || k.keptTo() == null ? ms
                            : k.keptAt() == null ? 0
                            : Math.max(0, Math.min(ms, k.keptAt().toEpochMilli() - start.toEpochMilli()));
                    productive += keptMs;
                    lost += ms - keptMs;
                }
                case RECOVERING -> {
                    if (restartWaits) {
                        waiting += ms;
                    } else {
                        restart += ms;
                    }
                }
                case STARTING -> restart += ms;
                case PENDING -> waiting += ms;
                default -> paused += ms; // PAUSING, PAUSED, CANCELLING
            }
        }
        long wall = Math.max(0, to.toEpochMilli() - from.toEpochMilli());
        return new GoodputResponse(runId, from, to, wall / 1000.0, productive / 1000.0, lost / 1000.0,
                restart / 1000.0, waiting / 1000.0, paused / 1000.0, wall == 0 ? null : (double) productive / wall);
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }
}
