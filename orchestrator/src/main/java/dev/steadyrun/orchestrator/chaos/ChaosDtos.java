package dev.steadyrun.orchestrator.chaos;

import java.time.Instant;
import java.util.UUID;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import dev.steadyrun.protocol.ChaosFault;

final class ChaosDtos {

    private ChaosDtos() {
    }

    /**
     * @param action what to break
     * @param rank   whose node or trainer (default 0); {@code CORRUPT_CHECKPOINT} always goes to rank 0, the writer
     */
    record ChaosRequest(@NotNull ChaosFault.Kind action, @Min(0) @Max(65_535) Integer rank) {
    }

    /** What was asked of which node, and by whom; the same text is in the run's events. */
    record ChaosResponse(long id, ChaosFault.Kind action, UUID runId, long generation, int rank, UUID nodeId,
                    String nodeName, String checkpoint, String requestedBy, Instant requestedAt) {
    }
}
