package dev.steadyrun.orchestrator.recovery;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.JsonNode;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker;

/**
 * One entry of a run's logbook, as the API shows it (field names fixed by the recovery API contract).
 *
 * @param lastHeartbeatAt          for a lost node: its last heartbeat, by the orchestrator's clock
 * @param generation               the generation the incident happened in
 * @param onsetStep                divergence onset, or the step at which the hang happened
 * @param evidence                 free JSON: metrics window, exit code, log tail, thread dump, XID, scores
 * @param recoveredAt              the first training step reported by a later generation
 * @param detectionLatencySeconds  detection time minus the moment the failure became visible, where known
 * @param timeToRecoverySeconds    recoveredAt minus detectedAt
 */
public record IncidentResponse(long id, UUID runId, IncidentKind kind, IncidentCause cause, String summary,
                               IncidentState state, Instant detectedAt, Instant lastHeartbeatAt, long generation,
                               UUID nodeId, String nodeName, Integer rank, Long onsetStep, JsonNode evidence,
                               DecisionView decision, RestorePoint restoreFrom,
                               List<CheckpointPicker.Skip> skippedCheckpoints, Long newGeneration,
                               SwappedIn swappedIn, Instant recoveredAt, Double detectionLatencySeconds,
                               Double timeToRecoverySeconds) {

    /** The ladder's decision as stored with the incident. */
    public record DecisionView(RemediationLadder.Action action, List<String> reasons, boolean consumesBudget,
                               double backoffSeconds, RestartKnobs knobs) {

        static DecisionView of(RemediationLadder.Decision d) {
            return new DecisionView(d.action(), d.reasons(), d.consumesBudget(), d.backoff().toMillis() / 1000.0,
                    d.knobs());
        }
    }

    public record RestorePoint(long step, String path) {
    }

    public record SwappedIn(UUID nodeId, String nodeName) {
    }
}
