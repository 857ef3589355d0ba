package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.stereotype.Service;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeView;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.protocol.RestartKnobs;

/** What operators do to recovery: read the logbook, restart a run from a chosen checkpoint with knobs, swap a node. */
@Service
class ManualRecovery {

    private final RecoveryActions actions;
    private final Incidents incidents;
    private final RunRepository runs;
    private final Placements placements;
    private final NodeRegistry nodes;

    ManualRecovery(RecoveryActions actions, Incidents incidents, RunRepository runs, Placements placements,
                   NodeRegistry nodes) {
        this.actions = actions;
        this.incidents = incidents;
        this.runs = runs;
        this.placements = placements;
        this.nodes = nodes;
    }

    List<IncidentResponse> incidentsOfRun(UUID runId) {
        runs.findById(runId).orElseThrow(() -> RunService.notFound(runId));
        return incidents.ofRun(runId);
    }

    List<IncidentResponse> incidentsOfNode(UUID nodeId) {
        nodes.view(nodeId); // 404 for an unknown node
        return incidents.ofNode(nodeId);
    }

    /** {@code POST /runs/{id}/restart}: all-or-nothing at a new generation, from a chosen checkpoint. */
    IncidentResponse restart(UUID runId, RestartRequest request, String actor) {
        RestartRequest r = request == null ? new RestartRequest(null, null, null) : request;
        RestartKnobs knobs = knobs(r.knobs());
        if (r.reason() != null && r.reason().length() > 500) {
            throw new BadRequestException("reason", "at most 500 characters");
        }
        Run run = runs.findById(runId).orElseThrow(() -> RunService.notFound(runId));
        List<String> reasons = new ArrayList<>();
        reasons.add("restart requested by " + actor + (r.reason() == null ? "" : ": " + r.reason()));
        reasons.add(r.checkpointStep() == null ? "from the newest complete checkpoint"
                : "from the checkpoint of step " + r.checkpointStep());
        RemediationLadder.Decision decision = new RemediationLadder.Decision(r.checkpointStep() == null
                ? RemediationLadder.Action.RESTART_FROM_LATEST : RemediationLadder.Action.ROLLBACK_AND_RESTART,
                knobs, false, Duration.ZERO, reasons);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("requestedBy", actor);
        if (r.reason() != null) {
            evidence.put("reason", r.reason());
        }
        long id = actions.open(Detection.of(runId, run.getGeneration(), IncidentKind.MANUAL_RESTART,
                IncidentCause.OPERATOR, null, "restart requested by " + actor + (r.reason() == null ? "" : ": "
                + r.reason()), null, null, null, evidence), new RecoveryActions.Manual(decision, r.checkpointStep()))
                .orElseThrow(() -> new ConflictException("run " + runId + " is not STARTING, RUNNING or RECOVERING"));
        return incidents.find(id).orElseThrow();
    }

    /** {@code POST /nodes/{id}/swap}: cordon the node, move its rank, restart the run at a new generation. */
    IncidentResponse swap(UUID nodeId, String actor) {
        NodeView node = nodes.view(nodeId);
        Placements.Row seat = placements.rankOf(nodeId).orElseThrow(() -> new ConflictException(
                "node " + node.name() + " holds no rank of a STARTING or RUNNING run"));
        RemediationLadder.Decision decision = new RemediationLadder.Decision(
                RemediationLadder.Action.SWAP_NODE_AND_RESTART, RestartKnobs.NONE, false, Duration.ZERO,
                List.of("swap requested by " + actor + ": cordon " + node.name() + ", give rank(s) " + seat.rankLabel()
                        + " to a spare (or a free healthy node), restart every rank from the newest complete checkpoint"));
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("requestedBy", actor);
        long id = actions.open(Detection.of(seat.runId(), seat.generation(), IncidentKind.NODE_SWAP,
                IncidentCause.OPERATOR, null, "swap of node " + node.name() + " requested by " + actor, nodeId,
                seat.rank(), null, evidence), new RecoveryActions.Manual(decision, null))
                .orElseThrow(() -> new ConflictException("node " + node.name() + " holds no rank of a STARTING or"
                        + " RUNNING run (its run is " + runs.findById(seat.runId()).map(Run::getState).orElse(null) + ")"));
        actions.cordon(nodeId, "swapped out of its run by " + actor, actor);
        return incidents.find(id).orElseThrow();
    }

    private static RestartKnobs knobs(RestartRequest.Knobs k) {
        if (k == null) {
            return RestartKnobs.NONE;
        }
        try {
            return new RestartKnobs(k.lrMultiplier(), k.lrOverride(), k.clipNorm(),
                    Boolean.TRUE.equals(k.resetLossScaler()), k.skipBatches() == null ? 0 : k.skipBatches(), k.optimizer());
        } catch (RestartKnobs.InvalidKnobException e) {
            throw new BadRequestException("knobs." + e.knob(), e.reason());
        }
    }
}
