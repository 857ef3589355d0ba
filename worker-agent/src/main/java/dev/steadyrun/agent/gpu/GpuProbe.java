package dev.steadyrun.agent.gpu;

import java.util.List;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;

/** Where a node's GPU inventory and health come from: {@code nvidia-smi}, nothing (CPU-only), or fakes. */
public interface GpuProbe {

    List<GpuInfo> inventory();

    /** One reading per GPU; XID lists hold only events since the previous reading. */
    List<GpuHealth> health();

    /** A node without GPUs: it still registers and runs CPU trainers, labelled {@code gpu=none}. */
    GpuProbe CPU_ONLY = new GpuProbe() {
        @Override
        public List<GpuInfo> inventory() {
            return List.of();
        }

        @Override
        public List<GpuHealth> health() {
            return List.of();
        }
    };
}
