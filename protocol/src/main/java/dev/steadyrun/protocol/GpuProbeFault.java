package dev.steadyrun.protocol;

/**
 * The agent has had no good GPU reading for {@code staleSeconds}: {@code nvidia-smi} timed out (a wedged GPU or
 * driver, typical after XID 79) or failed, so the heartbeat carries the last good reading and this. The agent picks
 * the severity by its configured thresholds; the orchestrator treats it as a GPU fault of that severity.
 */
public record GpuProbeFault(Severity severity, long staleSeconds) {

    public enum Severity { DEGRADED, FATAL }
}
