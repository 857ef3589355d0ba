package dev.steadyrun.agent.trainer;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Warm restarts and hot spares (docs/agent.md): whether a trainer that declared the control channel is asked to leave
 * its generation and kept for the next one instead of being stopped, and whether an idle node keeps a standby trainer
 * of the built-in program.
 *
 * @param warmRestart ask a trainer to leave its generation (and keep it) instead of stopping it
 * @param hotSpare    keep a standby trainer of the built-in program while no generation runs here (with
 *                    {@code warmRestart} only: without it no trainer is given the control channel)
 * @param ackTimeout  a trainer asked to leave that has not acknowledged by then is stopped (the cold path)
 * @param keep        without hot spares, how long a trainer that left its generation waits for the next one
 * @param spareEnvironment the rank environment a standby trainer starts with ({@link TrainerEnvironment#ofRank}):
 *                    a process cannot change the GPU it sees once running, so a spare can only take a rank whose
 *                    environment this is
 */
public record WarmSettings(boolean warmRestart, boolean hotSpare, Duration ackTimeout, Duration keep,
                           Map<String, String> spareEnvironment) {

    public WarmSettings {
        spareEnvironment = Map.copyOf(spareEnvironment);
    }

    /** A standby with the agent's own environment: what a one-rank-per-node CPU run's rank gets. */
    public WarmSettings(boolean warmRestart, boolean hotSpare, Duration ackTimeout, Duration keep) {
        this(warmRestart, hotSpare, ackTimeout, keep, Map.of());
    }

    /** Every trainer stopped and launched, no standby: the behaviour of trainers without the control channel. */
    public static final WarmSettings OFF = new WarmSettings(false, false, Duration.ofSeconds(30), Duration.ZERO);

    /** The same, without a hot spare: a trainer that left its generation is kept for {@code keep}, then stopped. */
    public WarmSettings withoutHotSpare() {
        return new WarmSettings(warmRestart, false, ackTimeout, keep, spareEnvironment);
    }

    /**
     * The settings of a node with GPUs: its standby sees the first of them alone, as local rank 0 of a run on its
     * GPUs does (one GPU per rank, in index order); on a node without GPUs the standby keeps the agent's environment.
     */
    public WarmSettings forGpus(List<Integer> gpuIndices) {
        if (gpuIndices.isEmpty()) {
            return this;
        }
        String first = Integer.toString(gpuIndices.stream().min(Integer::compare).orElseThrow());
        return new WarmSettings(warmRestart, hotSpare, ackTimeout, keep, Map.of("CUDA_VISIBLE_DEVICES", first));
    }
}
