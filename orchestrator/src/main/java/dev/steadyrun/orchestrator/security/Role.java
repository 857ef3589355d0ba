package dev.steadyrun.orchestrator.security;

/** Operator roles, each including the ones before it: VIEWER < OPERATOR < ADMIN. */
public enum Role {
    /** Reads everything except tokens. */
    VIEWER,
    /** Also changes nodes and runs (cordon, drain, submit, stop). */
    OPERATOR,
    /** Also manages API tokens. */
    ADMIN;

    public boolean includes(Role required) {
        return compareTo(required) >= 0;
    }
}
