package dev.steadyrun.trainer;

/**
 * Everything a {@link LossScaler} needs to continue exactly where it stopped; saved in every checkpoint.
 *
 * @param scale      the current loss scale
 * @param window     the current growth window in steps
 * @param cleanSteps consecutive clean steps since the last overflow (or since start / reset)
 * @param overflows  steps skipped for overflow over the whole run (a reset does not clear it)
 */
public record LossScalerState(double scale, int window, long cleanSteps, long overflows) {
}
