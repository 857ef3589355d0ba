package dev.steadyrun.orchestrator.scheduling;

import java.util.UUID;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;

/**
 * What one node works on, as the heartbeat path sees it: a rank of a run's current generation, or a spare.
 *
 * @param assignment the assignment to hand out; null for a spare
 * @param keepStep   the restore point of the run's pending restart, which the stopping trainer must not delete; null
 */
record NodeWork(UUID runId, RunState runState, long generation, Assignment assignment, Long keepStep) {

    NodeWork(UUID runId, RunState runState, long generation, Assignment assignment) {
        this(runId, runState, generation, assignment, null);
    }

    boolean spare() {
        return assignment == null;
    }
}
