package dev.steadyrun.agent.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;

/**
 * TEST TOOL — simulated GPUs (healthy H100-like readings with a little noise) for the simulated fleet and for
 * exercising fault injection on machines without GPUs ({@code --fake-gpus N}). Never used unless asked for.
 */
public final class FakeGpus implements GpuProbe {

    private static final long MEMORY_MIB = 81_559;

    private final String nodeName;
    private final int count;
    private final RandomGenerator random;

    public FakeGpus(String nodeName, int count, RandomGenerator random) {
        this.nodeName = nodeName;
        this.count = count;
        this.random = random;
    }

    @Override
    public List<GpuInfo> inventory() {
        List<GpuInfo> gpus = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            gpus.add(new GpuInfo(i, "GPU-fake-" + nodeName + "-" + i, "Simulated H100 80GB HBM3", MEMORY_MIB));
        }
        return gpus;
    }

    @Override
    public List<GpuHealth> readings() {
        List<GpuHealth> gpus = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            gpus.add(new GpuHealth(i, 55 + 10 * random.nextDouble(), 60_000, MEMORY_MIB, 90 + 10 * random.nextDouble(),
                    0, 0, 0, List.of(), 0));
        }
        return gpus;
    }
}
