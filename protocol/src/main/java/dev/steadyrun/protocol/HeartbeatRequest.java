package dev.steadyrun.protocol;

import java.util.List;

/**
 * A lease renewal with health, sent to {@code POST /api/v1/agents/{nodeId}/heartbeat} every
 * {@link LeaseTimings#heartbeatInterval()} with the node credential.
 *
 * @param sequence increases by one per heartbeat; lets the orchestrator see lost or reordered beats
 * @param gpuProbe set while the agent's GPU probe is stale ({@code gpus} is then its last good reading); null when
 *                 the probe is fresh or the node has no GPUs
 */
public record HeartbeatRequest(long sequence, List<GpuHealth> gpus, TrainerStatus trainer, GpuProbeFault gpuProbe) {

    /** A heartbeat whose GPU readings are fresh. */
    public HeartbeatRequest(long sequence, List<GpuHealth> gpus, TrainerStatus trainer) {
        this(sequence, gpus, trainer, null);
    }
}
