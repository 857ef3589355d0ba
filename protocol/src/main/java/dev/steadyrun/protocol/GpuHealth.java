package dev.steadyrun.protocol;

import java.util.List;

/**
 * One GPU's health in one heartbeat. Counters are cumulative since boot, as {@code nvidia-smi} reports them.
 *
 * @param xidErrors XID codes seen since the previous heartbeat (see the orchestrator's XID classification)
 */
public record GpuHealth(int index, double temperatureC, long memoryUsedMiB, long memoryTotalMiB,
                        double utilizationPct, long eccCorrectable, long eccUncorrectable, long retiredPages,
                        List<Integer> xidErrors, long nvlinkErrors) {
}
