package dev.steadyrun.orchestrator.recovery;

/** Who is to blame: only USER_CODE restarts are charged to the run's restart budget. */
public enum IncidentCause { HARDWARE, INFRASTRUCTURE, USER_CODE, DIVERGENCE, OPERATOR }
