package dev.steadyrun.agent.gpu;

import java.util.List;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuProbeFault;

/** What one heartbeat says about the GPUs: the readings, and whether they are stale ({@code probeFault}). */
public record GpuReport(List<GpuHealth> gpus, GpuProbeFault probeFault) {

    public static GpuReport of(List<GpuHealth> gpus) {
        return new GpuReport(gpus, null);
    }
}
