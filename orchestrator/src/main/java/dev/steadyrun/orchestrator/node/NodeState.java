package dev.steadyrun.orchestrator.node;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * A node's health, as data: the states, the transition table and one guard ({@link #check}).
 *
 * <table>
 * <caption>States</caption>
 * <tr><th>state</th><th>meaning</th><th>gets work</th><th>lease watched</th></tr>
 * <tr><td>REGISTERED</td><td>joined, re-joined or readmitted; no heartbeat since. FAILED after
 *     {@code neverReportedGrace} without one</td><td>no</td><td>first-report grace</td></tr>
 * <tr><td>HEALTHY</td><td>heartbeating, GPUs fine</td><td>yes</td><td>yes: SUSPECT when it runs out</td></tr>
 * <tr><td>SPARE</td><td>healthy but reserved as a hot spare by the scheduler or an operator; still heartbeats and
 *     can go SUSPECT/FAILED like HEALTHY (a spare that recovers comes back HEALTHY, unreserved)</td>
 *     <td>only as a replacement</td><td>yes</td></tr>
 * <tr><td>SUSPECT</td><td>lease ran out, or a GPU reported a degraded (not fatal) fault. A heartbeat brings it
 *     back to HEALTHY once no degradation was seen for {@code quietGrace}; silence for {@code quietGrace} past
 *     the lease makes it FAILED</td><td>no</td><td>yes</td></tr>
 * <tr><td>FAILED</td><td>sticky: silent past every grace, or a fatal GPU fault. Its heartbeats are answered
 *     STOP/IDLE and do not bring it back; only an operator readmits it (uncordon → REGISTERED)</td>
 *     <td>no</td><td>no</td></tr>
 * <tr><td>CORDONED</td><td>held out by an operator; its trainer keeps running. Silence past the lease and
 *     {@code quietGrace} makes it FAILED directly (a SUSPECT that recovers would silently lose the cordon)</td>
 *     <td>no new work</td><td>yes</td></tr>
 * <tr><td>DRAINING</td><td>an operator asked it to stop its work: heartbeats are answered STOP; once the trainer
 *     is idle it becomes CORDONED. Silence fails it like CORDONED</td><td>no</td><td>yes</td></tr>
 * </table>
 * Uncordon (from CORDONED, DRAINING or FAILED) leads to REGISTERED, so a node must prove with a heartbeat that it
 * is alive before it gets work again. Re-registering a node moves HEALTHY, SPARE and SUSPECT to REGISTERED and
 * keeps CORDONED, DRAINING and FAILED (bad nodes do not come back by restarting their agent).
 */
public enum NodeState {
    REGISTERED, HEALTHY, SUSPECT, FAILED, CORDONED, DRAINING, SPARE;

    private static final Map<NodeState, Set<NodeState>> TRANSITIONS = new EnumMap<>(NodeState.class);

    static {
        TRANSITIONS.put(REGISTERED, EnumSet.of(HEALTHY, SUSPECT, FAILED, CORDONED, DRAINING));
        TRANSITIONS.put(HEALTHY, EnumSet.of(SUSPECT, FAILED, CORDONED, DRAINING, SPARE, REGISTERED));
        TRANSITIONS.put(SPARE, EnumSet.of(HEALTHY, SUSPECT, FAILED, CORDONED, DRAINING, REGISTERED));
        TRANSITIONS.put(SUSPECT, EnumSet.of(HEALTHY, FAILED, CORDONED, DRAINING, REGISTERED));
        TRANSITIONS.put(CORDONED, EnumSet.of(REGISTERED, FAILED, DRAINING));
        TRANSITIONS.put(DRAINING, EnumSet.of(CORDONED, FAILED, REGISTERED));
        TRANSITIONS.put(FAILED, EnumSet.of(REGISTERED, CORDONED));
    }

    /** The states this one may change to. */
    public Set<NodeState> next() {
        return TRANSITIONS.get(this);
    }

    public boolean canBecome(NodeState to) {
        return TRANSITIONS.get(this).contains(to);
    }

    /** The one guard every state change passes. */
    public static void check(NodeState from, NodeState to) {
        if (!from.canBecome(to)) {
            throw new IllegalNodeTransitionException(from, to);
        }
    }

    /** States whose node is on the fleet's roll: everything but FAILED (the mass-failure guard counts these). */
    public boolean watched() {
        return this != FAILED;
    }

    /** The operator parked it: silence fails it directly instead of via SUSPECT. */
    boolean operatorHeld() {
        return this == CORDONED || this == DRAINING;
    }
}
