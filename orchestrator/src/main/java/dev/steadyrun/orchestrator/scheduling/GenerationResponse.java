package dev.steadyrun.orchestrator.scheduling;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** One placement of a run: which node held which rank, and which nodes were its spares. */
public record GenerationResponse(long generation, Instant placedAt, List<Seat> ranks, List<Seat> spares) {

    /**
     * @param rank       the node's first global rank; null for a spare
     * @param ranks      how many consecutive ranks from {@code rank} the node runs (its ranks per node)
     * @param releasedAt when the node stopped working for this generation; null while it still does
     */
    public record Seat(Integer rank, UUID nodeId, String nodeName, Instant releasedAt, int ranks) {
    }
}
