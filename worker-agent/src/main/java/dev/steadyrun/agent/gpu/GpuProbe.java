package dev.steadyrun.agent.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;

/** Where a node's GPU inventory and health come from: {@code nvidia-smi}, nothing (CPU-only), or fakes. */
public interface GpuProbe {

    List<GpuInfo> inventory();

    /**
     * One reading per GPU, without XIDs; empty when the GPUs could not be read. May take up to the probe's
     * timeout, so the agent calls it off the heartbeat thread ({@link GpuHealthWatch}).
     */
    List<GpuHealth> readings();

    /** XID codes by GPU index seen since the previous call; never blocks. */
    default Map<Integer, List<Integer>> xids() {
        return Map.of();
    }

    /** One reading per GPU; XID lists hold only events since the previous call. */
    default List<GpuHealth> health() {
        return withXids(readings(), xids());
    }

    static List<GpuHealth> withXids(List<GpuHealth> readings, Map<Integer, List<Integer>> xids) {
        if (xids.isEmpty()) {
            return readings;
        }
        List<GpuHealth> out = new ArrayList<>(readings.size());
        for (GpuHealth g : readings) {
            out.add(new GpuHealth(g.index(), g.temperatureC(), g.memoryUsedMiB(), g.memoryTotalMiB(),
                    g.utilizationPct(), g.eccCorrectable(), g.eccUncorrectable(), g.retiredPages(),
                    List.copyOf(xids.getOrDefault(g.index(), List.of())), g.nvlinkErrors()));
        }
        return out;
    }

    /** A node without GPUs: it still registers and runs CPU trainers, labelled {@code gpu=none}. */
    GpuProbe CPU_ONLY = new GpuProbe() {
        @Override
        public List<GpuInfo> inventory() {
            return List.of();
        }

        @Override
        public List<GpuHealth> readings() {
            return List.of();
        }
    };
}
