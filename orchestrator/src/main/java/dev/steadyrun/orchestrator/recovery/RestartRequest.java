package dev.steadyrun.orchestrator.recovery;

/**
 * {@code POST /api/v1/runs/{id}/restart}; every field optional.
 *
 * @param checkpointStep the checkpoint to restore; null for the newest complete one
 * @param knobs          what the trainer changes on restart; null for nothing
 * @param reason         for the logbook
 */
public record RestartRequest(Long checkpointStep, Knobs knobs, String reason) {

    /** {@link dev.steadyrun.protocol.RestartKnobs} with every field optional. */
    public record Knobs(Double lrMultiplier, Double lrOverride, Double clipNorm, Boolean resetLossScaler,
                        Long skipBatches, String optimizer) {
    }
}
