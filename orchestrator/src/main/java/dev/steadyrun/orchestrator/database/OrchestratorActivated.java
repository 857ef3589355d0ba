package dev.steadyrun.orchestrator.database;

/**
 * A standby orchestrator took the database lock and is about to serve: whatever is kept in memory from the database
 * (leases, detectors, directives, credentials) is loaded again now, synchronously, since the active orchestrator
 * changed it after this one started.
 */
public record OrchestratorActivated() {
}
