package dev.steadyrun.orchestrator.scheduling;

import java.util.UUID;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;

/**
 * What one node works on, as the heartbeat path sees it: a rank of a run's current generation, or a spare.
 *
 * @param assignment the assignment to hand out; null for a spare
 */
record NodeWork(UUID runId, RunState runState, long generation, Assignment assignment) {

    boolean spare() {
        return assignment == null;
    }
}
