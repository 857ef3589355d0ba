package dev.steadyrun.soak;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * TEST TOOL — what must hold throughout a soak, fed by the simulated fleet as it sees the orchestrator's answers. Pure
 * bookkeeping (no I/O, times passed in) so it is unit-tested on its own. Each broken invariant is kept with the soak
 * time and what broke it; the harness exits non-zero naming them.
 */
final class Invariants {

    enum Name {
        /** a report of an older generation was accepted after a newer one launched, or a generation launched while a
         *  healthy, reachable node still ran an older one */
        TWO_GENERATIONS,
        /** a rank was told to restore a checkpoint it must not use: unknown, removed, refused as corrupt, from a
         *  timeline a rollback abandoned, or (after a divergence) at or after the onset or with loss scale below 1 */
        FORBIDDEN_RESTORE,
        /** an incident stayed unsettled past the limit, or was still unsettled at the end */
        INCIDENT_NOT_TERMINAL,
        /** the run made no progress past the limit while no incident was open to say why */
        RUN_STUCK,
        /** an alert arrived twice, or an incident or run transition was never delivered */
        ALERT_NOT_DELIVERED_ONCE,
        /** the heartbeats' p99 latency was over the limit */
        HEARTBEAT_P99
    }

    record Violation(Name name, double atSeconds, String detail) {
    }

    /** One checkpoint as the simulated storage holds it. */
    record Checkpoint(long step, long generation, double lossScale, boolean removed, boolean corrupt,
                      boolean abandoned) {
        Checkpoint with(boolean removed, boolean corrupt, boolean abandoned) {
            return new Checkpoint(step, generation, lossScale, removed, corrupt, abandoned);
        }
    }

    private static final int KEPT_PER_NAME = 20;

    private final double healthyLossScale;
    private final List<Violation> violations = new ArrayList<>();
    private final Map<Name, Integer> counts = new EnumMap<>(Name.class);
    private final Map<Long, Checkpoint> checkpoints = new TreeMap<>();
    /** onset step of a divergence not yet rolled back past, or null */
    private Long onset;
    private final Map<Long, Long> restoreOfGeneration = new HashMap<>();

    Invariants(double healthyLossScale) {
        this.healthyLossScale = healthyLossScale;
    }

    void checkpointWritten(long step, long generation, double lossScale) {
        checkpoints.put(step, new Checkpoint(step, generation, lossScale, false, false, false));
    }

    void checkpointRemoved(long step) {
        checkpoints.computeIfPresent(step, (s, c) -> c.with(true, c.corrupt(), c.abandoned()));
    }

    /** A rank refused this checkpoint on its checksums (exit 3, told to the orchestrator). */
    void checkpointRefusedCorrupt(long step) {
        checkpoints.computeIfPresent(step, (s, c) -> c.with(c.removed(), true, c.abandoned()));
    }

    /** A step whose loss scale fell under the healthy one was accepted: the divergence's onset. */
    void divergenceOnset(long step) {
        if (onset == null || step < onset) {
            onset = step;
        }
    }

    /**
     * Generation {@code generation} launched on a node, told to restore {@code restoreStep} (null: from scratch).
     * {@code olderAlive} names healthy, reachable nodes that still run an older generation of the run.
     */
    void launched(double t, long generation, int rank, Long restoreStep, Set<String> olderAlive) {
        if (!olderAlive.isEmpty()) {
            broke(Name.TWO_GENERATIONS, t, "generation " + generation + " launched (rank " + rank
                    + ") while an older generation still ran on healthy nodes " + olderAlive);
        }
        Long previous = restoreOfGeneration.putIfAbsent(generation, restoreStep == null ? -1 : restoreStep);
        if (previous != null && previous != (restoreStep == null ? -1 : restoreStep)) {
            broke(Name.FORBIDDEN_RESTORE, t, "generation " + generation + " restores step " + restoreStep
                    + " on rank " + rank + " but step " + previous + " on another rank");
        }
        if (restoreStep == null) {
            return;
        }
        Checkpoint c = checkpoints.get(restoreStep);
        String why = null;
        if (c == null) {
            why = "was never reported";
        } else if (c.removed()) {
            why = "was removed";
        } else if (c.corrupt()) {
            why = "was already refused as corrupt";
        } else if (c.abandoned()) {
            why = "belongs to a timeline a rollback abandoned (written by generation " + c.generation() + ")";
        } else if (onset != null && restoreStep >= onset) {
            why = "is at or after the divergence onset " + onset;
        } else if (onset != null && c.lossScale() < healthyLossScale) {
            why = "has loss scale " + c.lossScale() + " after a divergence";
        }
        if (why != null) {
            broke(Name.FORBIDDEN_RESTORE, t, "generation " + generation + " rank " + rank + " restores step "
                    + restoreStep + ", which " + why);
        }
    }

    /** Generation {@code generation} made a step: a restore before the onset took, the divergence is behind. */
    void stepped(long generation) {
        Long restore = restoreOfGeneration.get(generation);
        if (restore != null && restore >= 0) {
            // a restore that took throws away every later checkpoint an older generation wrote
            checkpoints.replaceAll((s, c) -> s > restore && c.generation() < generation
                    ? c.with(c.removed(), c.corrupt(), true) : c);
        }
        if (onset != null && restore != null && restore < onset) {
            onset = null;
        }
    }

    /**
     * The orchestrator accepted (2xx) a report of {@code generation}, sent when {@code newestAtSend} was the newest
     * generation launched: the orchestrator had placed that one before, so it must have refused an older one.
     */
    void reportAccepted(double t, long generation, int rank, long newestAtSend) {
        if (generation < newestAtSend) {
            broke(Name.TWO_GENERATIONS, t, "a report of generation " + generation + " (rank " + rank
                    + ") sent after generation " + newestAtSend + " launched was accepted");
        }
    }

    /**
     * An incident seen unsettled for {@code openSeconds}, more than the limit; or still unsettled at the end
     * ({@code openSeconds} NaN).
     */
    void incidentUnsettled(double t, long id, String kind, String state, double openSeconds) {
        broke(Name.INCIDENT_NOT_TERMINAL, t, "incident #" + id + " (" + kind + ") still " + state
                + (Double.isNaN(openSeconds) ? " at the end of the soak" : " after " + Math.round(openSeconds) + " s"));
    }

    /** The run made no step for {@code stalledSeconds} and no incident was open. */
    void runStuck(double t, String state, double stalledSeconds) {
        broke(Name.RUN_STUCK, t, "run " + state + " without progress for " + Math.round(stalledSeconds)
                + " s and no open incident");
    }

    void alertProblem(double t, String detail) {
        broke(Name.ALERT_NOT_DELIVERED_ONCE, t, detail);
    }

    void heartbeatP99(double t, double p99Ms, double limitMs, String window) {
        if (p99Ms >= limitMs) {
            broke(Name.HEARTBEAT_P99, t, String.format("heartbeat p99 %.1f ms >= %.0f ms (%s)", p99Ms, limitMs, window));
        }
    }

    private void broke(Name name, double t, String detail) {
        int n = counts.merge(name, 1, Integer::sum);
        if (n <= KEPT_PER_NAME) {
            violations.add(new Violation(name, t, detail));
        }
    }

    List<Violation> violations() {
        return List.copyOf(violations);
    }

    Map<Name, Integer> counts() {
        return Map.copyOf(counts);
    }
}
