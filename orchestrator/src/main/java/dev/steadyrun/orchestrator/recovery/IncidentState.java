package dev.steadyrun.orchestrator.recovery;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * An incident's life, as data. It is written with its decision at once: RECOVERING (a restart is under way),
 * NEEDS_HUMAN (the run pauses) or STOPPED (the run failed for lack of progress); OPEN is an incident recorded
 * without a decision yet. The first step of a later generation makes a recovering or paused-for-a-human incident
 * RECOVERED; a run that ends first (cancelled, failed, finished) leaves its unsettled incidents CLOSED.
 */
public enum IncidentState {
    OPEN, RECOVERING, RECOVERED, NEEDS_HUMAN, STOPPED, CLOSED;

    private static final Map<IncidentState, Set<IncidentState>> TRANSITIONS = new EnumMap<>(IncidentState.class);

    static {
        TRANSITIONS.put(OPEN, EnumSet.of(RECOVERING, NEEDS_HUMAN, STOPPED, CLOSED));
        TRANSITIONS.put(RECOVERING, EnumSet.of(RECOVERED, NEEDS_HUMAN, STOPPED, CLOSED));
        TRANSITIONS.put(NEEDS_HUMAN, EnumSet.of(RECOVERED, CLOSED));
        TRANSITIONS.put(RECOVERED, EnumSet.noneOf(IncidentState.class));
        TRANSITIONS.put(STOPPED, EnumSet.noneOf(IncidentState.class));
        TRANSITIONS.put(CLOSED, EnumSet.noneOf(IncidentState.class));
    }

    /** The states that may turn into {@code to}: the one guard, used in the updates' where clauses. */
    public static Set<IncidentState> sourcesOf(IncidentState to) {
        Set<IncidentState> from = EnumSet.noneOf(IncidentState.class);
        TRANSITIONS.forEach((s, targets) -> {
            if (targets.contains(to)) {
                from.add(s);
            }
        });
        return from;
    }
}
