package dev.steadyrun.protocol;

import java.util.List;

/**
 * A lease renewal with health, sent to {@code POST /api/v1/agents/{nodeId}/heartbeat} every
 * {@link LeaseTimings#heartbeatInterval()} with the node credential.
 *
 * @param sequence increases by one per heartbeat; lets the orchestrator see lost or reordered beats
 */
public record HeartbeatRequest(long sequence, List<GpuHealth> gpus, TrainerStatus trainer) {
}
