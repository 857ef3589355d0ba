package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * What a detector (or an operator) found, before the decision: the incident's facts for the logbook and what the
 * remediation ladder decides from.
 *
 * @param ladder           the ladder's view of it; null for an operator's restart or swap (which decide themselves)
 * @param nodeId           the node it names, if any (a node that must leave the run when the kind replaces nodes)
 * @param onsetStep        divergence onset, or the step a hang or crash happened at
 * @param lastHeartbeatAt  for a lost node: its last heartbeat
 * @param detectionLatency from the failure becoming visible to this detection, where known
 */
record Detection(UUID runId, long generation, IncidentKind kind, IncidentCause cause, RemediationLadder.Incident ladder,
                 String summary, UUID nodeId, Integer rank, Long onsetStep, Divergence.Kind divergenceKind,
                 Map<String, Object> evidence, Instant lastHeartbeatAt, Duration detectionLatency) {

    /** A detection with neither a heartbeat time nor a known latency. */
    static Detection of(UUID runId, long generation, IncidentKind kind, IncidentCause cause,
                        RemediationLadder.Incident ladder, String summary, UUID nodeId, Integer rank, Long onsetStep,
                        Map<String, Object> evidence) {
        return new Detection(runId, generation, kind, cause, ladder, summary, nodeId, rank, onsetStep, null, evidence,
                null, null);
    }
}
