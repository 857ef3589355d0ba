package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * A node as the API and other features see it. {@code lastSeenAt}, {@code trainer} and {@code gpuHealth} are the
 * in-memory values of the last heartbeat (fresher than the row, which is written in batches); the last two are
 * null before the node's first heartbeat.
 */
public record NodeView(UUID id, String name, String hostname, String agentVersion, NodeState state,
                       String stateReason, Instant stateChangedAt, Map<String, String> labels, List<GpuInfo> gpus,
                       Instant registeredAt, Instant lastSeenAt, Seat trainer, GpuSummary gpuHealth) {

    /** The GPUs the node registered with; 0 for a CPU node. */
    public int gpuCount() {
        return gpus == null ? 0 : gpus.size();
    }

    /** What the node's trainer runs, as its last heartbeat said: the run and rank, null and -1 when idle. */
    public record Seat(TrainerState state, UUID runId, int rank, long generation) {

        static Seat of(TrainerStatus t) {
            return t == null ? null : new Seat(t.state(), t.runId(), t.rank(), t.generation());
        }
    }

    /**
     * The last heartbeat's GPU health in the two figures a fleet table shows (the node page has every GPU's):
     * the hottest GPU and the mean utilisation; null for a heartbeat without GPUs.
     */
    public record GpuSummary(int gpus, double maxTemperatureC, double meanUtilizationPct) {

        static GpuSummary of(List<GpuHealth> health) {
            if (health == null || health.isEmpty()) {
                return null;
            }
            double hottest = health.stream().mapToDouble(GpuHealth::temperatureC).max().orElseThrow();
            double utilisation = health.stream().mapToDouble(GpuHealth::utilizationPct).average().orElseThrow();
            return new GpuSummary(health.size(), hottest, utilisation);
        }
    }
}
