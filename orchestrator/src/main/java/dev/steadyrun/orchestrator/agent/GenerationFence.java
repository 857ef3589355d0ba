package dev.steadyrun.orchestrator.agent;

import java.util.UUID;

import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.scheduling.NodeDirectives;
import dev.steadyrun.orchestrator.scheduling.Placements;

/**
 * Whether a node may speak for a rank of a run's generation (trainer reports and log lines alike): only for the
 * current generation, and only for a rank it holds. A stale generation's node is also told to stop that trainer.
 */
@Component
class GenerationFence {

    private final Placements placements;
    private final NodeDirectives directives;

    GenerationFence(Placements placements, NodeDirectives directives) {
        this.placements = placements;
        this.directives = directives;
    }

    /** @throws StaleGenerationException (409) when the node may not */
    void check(UUID nodeId, Run run, int rank, long generation) {
        if (generation < run.getGeneration()) {
            directives.fence(nodeId, run.getId(), generation);
            throw new StaleGenerationException("generation " + generation + " of run " + run.getId()
                    + " is stale: the run is at generation " + run.getGeneration() + "; stop this trainer");
        }
        if (generation > run.getGeneration() || !placements.holdsRank(run.getId(), generation, nodeId, rank)) {
            throw new StaleGenerationException("node " + nodeId + " holds no rank " + rank + " of generation "
                    + generation + " of run " + run.getId());
        }
    }
}
