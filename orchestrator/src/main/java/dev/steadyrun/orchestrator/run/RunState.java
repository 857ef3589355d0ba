package dev.steadyrun.orchestrator.run;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The lifecycle of a run as data: the states, the one transition table, and the one guard every change goes
 * through ({@link #checkTransition}).
 */
public enum RunState {
    /** Waiting until every rank (and spare) has a healthy node. */
    PENDING,
    /** Placed: nodes were told to start the trainer at the current generation; no step reported yet. */
    STARTING,
    RUNNING,
    /** Nodes are being told to stop; the run turns PAUSED once every node confirmed. */
    PAUSING,
    PAUSED,
    /**
     * An incident stopped the current generation: its nodes are told to stop, and once every rank stopped (and
     * the decision's backoff passed) the recovery restarts the run at a new generation (STARTING).
     */
    RECOVERING,
    CANCELLING,
    CANCELLED,
    SUCCEEDED,
    FAILED;

    private static final Map<RunState, Set<RunState>> TRANSITIONS = new EnumMap<>(RunState.class);

    static {
        TRANSITIONS.put(PENDING, EnumSet.of(STARTING, PAUSED, CANCELLED, FAILED));
        // STARTING → SUCCEEDED: a trainer restored at its last step has nothing left to do and exits at once.
        TRANSITIONS.put(STARTING, EnumSet.of(RUNNING, PAUSING, CANCELLING, RECOVERING, SUCCEEDED, FAILED));
        TRANSITIONS.put(RUNNING, EnumSet.of(PAUSING, CANCELLING, RECOVERING, SUCCEEDED, FAILED));
        TRANSITIONS.put(PAUSING, EnumSet.of(PAUSED, CANCELLING, FAILED));
        TRANSITIONS.put(PAUSED, EnumSet.of(PENDING, CANCELLED));
        TRANSITIONS.put(RECOVERING, EnumSet.of(PENDING, STARTING, PAUSING, CANCELLING, FAILED));
        TRANSITIONS.put(CANCELLING, EnumSet.of(CANCELLED, FAILED));
        TRANSITIONS.put(CANCELLED, EnumSet.noneOf(RunState.class));
        TRANSITIONS.put(SUCCEEDED, EnumSet.noneOf(RunState.class));
        TRANSITIONS.put(FAILED, EnumSet.noneOf(RunState.class));
    }

    /** No way out of these. */
    public static final Set<RunState> TERMINAL = EnumSet.of(CANCELLED, SUCCEEDED, FAILED);

    /**
     * Its placed nodes should run their trainers; in any other state they should stop them (RECOVERING too: a
     * restart is all-or-nothing, every rank of the old generation stops before the new one starts).
     */
    public static final Set<RunState> LIVE = EnumSet.of(STARTING, RUNNING);

    public boolean isTerminal() {
        return TERMINAL.contains(this);
    }

    public boolean canMoveTo(RunState target) {
        return TRANSITIONS.get(this).contains(target);
    }

    public Set<RunState> successors() {
        return Set.copyOf(TRANSITIONS.get(this));
    }

    /** The one guard: throws when the table has no edge from {@code from} to {@code to}. */
    public static void checkTransition(RunState from, RunState to) {
        if (!from.canMoveTo(to)) {
            throw new IllegalRunTransitionException(from, to);
        }
    }
}
