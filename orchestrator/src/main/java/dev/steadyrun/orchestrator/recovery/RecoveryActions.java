package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.alert.AlertEventType;
import dev.steadyrun.orchestrator.alert.AlertOutbox;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker;
import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.RestoreRule;
import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeState;
import dev.steadyrun.orchestrator.node.NodeView;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunSpecs;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunStateMachine;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.orchestrator.scheduling.RestartPlacer;
import dev.steadyrun.orchestrator.scheduling.RestartRequests;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.UnprocessableException;
import dev.steadyrun.protocol.RestartKnobs;

/**
 * Decides and acts on a detection: the remediation ladder decides from the run's policy and history, the checkpoint is
 * picked by the decision's rule, and in one transaction under the run's row lock the incident is written with its
 * evidence and decision and the run moves:
 * <ul>
 *   <li>a restart: a restart request for the scheduling pass (checkpoint, rule, knobs, nodes to replace, earliest
 *       start), and the run turns RECOVERING, so its nodes are told to stop;</li>
 *   <li>a call for a human: the run pauses; no progress over several restarts: the run fails.</li>
 * </ul>
 * A node lost while its run already recovers joins that restart: logged, and its rank moves too.
 */
@Component
class RecoveryActions {

    static final String ACTOR = "system:recovery";

    private static final Logger log = LoggerFactory.getLogger(RecoveryActions.class);

    /** An operator's restart or swap: its own decision, optionally its own checkpoint. */
    record Manual(RemediationLadder.Decision decision, Long checkpointStep) {
    }

    private final RunRepository runs;
    private final RunStateMachine stateMachine;
    private final Incidents incidents;
    private final RestartRequests restarts;
    private final RestartPlacer placer;
    private final Placements placements;
    private final Checkpoints checkpoints;
    private final NodeRegistry nodes;
    private final AlertOutbox alerts;
    private final RecoveryMetrics metrics;
    private final RunSpecs specs;
    private final TransactionTemplate tx;
    private final Clock clock;

    RecoveryActions(RunRepository runs, RunStateMachine stateMachine, Incidents incidents, RestartRequests restarts,
                    RestartPlacer placer, Placements placements, Checkpoints checkpoints, NodeRegistry nodes,
                    AlertOutbox alerts, RecoveryMetrics metrics, RunSpecs specs, PlatformTransactionManager transactions,
                    Clock clock) {
        this.placements = placements;
        this.runs = runs;
        this.stateMachine = stateMachine;
        this.incidents = incidents;
        this.restarts = restarts;
        this.placer = placer;
        this.checkpoints = checkpoints;
        this.nodes = nodes;
        this.alerts = alerts;
        this.metrics = metrics;
        this.specs = specs;
        this.tx = new TransactionTemplate(transactions);
        this.clock = clock;
    }

    /**
     * Records the incident and its decision and moves the run. Empty when the run is no longer at the incident's
     * generation in a live state (another incident came first): old-generation trainers exiting while the run
     * recovers open nothing.
     */
    Optional<Long> open(Detection d, Manual manual) {
        Instant now = clock.instant();
        List<UUID> sparesFreed = new ArrayList<>();
        Long id = tx.execute(status -> {
            Run run = runs.findForUpdate(d.runId()).orElse(null);
            if (run == null) {
                return null;
            }
            RunState state = run.getState();
            boolean live = state == RunState.STARTING || state == RunState.RUNNING;
            boolean operatorRestart = manual != null && d.kind() == IncidentKind.MANUAL_RESTART;
            // A node lost while its run already recovers from something else (peers of a lost rank may exit
            // "peer lost" before the lease runs out) joins that restart: logged, and its rank is moved.
            RestartRequests.Pending joined = manual == null && d.kind().replacesNode() && state == RunState.RECOVERING
                    ? restarts.pending(run.getId()).orElse(null) : null;
            // ... or one judged lost a moment after the restart it would have joined was placed without it (the
            // placement saw it silent): it joins that restart late, so the logbook still has the node's loss
            RestartRequests.Request joinedLate = manual == null && joined == null && d.kind().replacesNode() && live
                    && d.nodeId() != null && run.getGeneration() == d.generation() + 1
                    && placements.ranksOf(run.getId(), run.getGeneration()).stream()
                    .noneMatch(r -> r.nodeId().equals(d.nodeId()))
                    ? restarts.placedUntrained(run.getId(), run.getGeneration()).orElse(null) : null;
            if (!(live || operatorRestart && state == RunState.RECOVERING || joined != null)
                    || !operatorRestart && joinedLate == null && run.getGeneration() != d.generation()) {
                return null;
            }
            if (joined != null && joined.request().replaceNodes().contains(d.nodeId())
                    || joinedLate != null && joinedLate.replaceNodes().contains(d.nodeId())) {
                return null; // one loss, one incident: a node lost at its lease's end later turns FAILED too
            }
            RecoveryPolicy policy = specs.policyOf(run);
            RemediationLadder.Decision decision;
            if (joined != null) {
                decision = new RemediationLadder.Decision(RemediationLadder.Action.SWAP_NODE_AND_RESTART,
                        joined.request().knobs(), false, Duration.ZERO, List.of("a node holding a rank is lost while"
                        + " the run recovers: this joins the restart of incident #" + joined.request().incidentId()
                        + " (same checkpoint, same knobs) and its rank moves to another node"));
            } else if (joinedLate != null) {
                decision = new RemediationLadder.Decision(RemediationLadder.Action.SWAP_NODE_AND_RESTART,
                        joinedLate.knobs(), false, Duration.ZERO, List.of("a node holding a rank is lost just after"
                        + " the restart of incident #" + joinedLate.incidentId() + " placed generation "
                        + run.getGeneration() + " without it: this joins that restart (same checkpoint, same knobs),"
                        + " its rank already on another node"));
            } else {
                decision = manual != null ? manual.decision()
                        : new RemediationLadder(policy).decide(d.ladder(), history(run));
            }
            Checkpoints.RestorePoint restore = joined != null ? joined.request().restore()
                    : joinedLate != null ? joinedLate.restore() : null;
            RestoreRule rule = null;
            List<CheckpointPicker.Skip> skipped = List.of();
            Long below = null;
            if (decision.restarts() && joined == null && joinedLate == null) {
                RestartRequests.Request retried = manual == null && d.kind() != IncidentKind.DIVERGENCE
                        ? restarts.placedUntrained(run.getId(), d.generation()).orElse(null) : null;
                if (retried != null) {
                    // the generation never trained (its restore failed, a peer was lost while it started): this is
                    // a retry of the restart that placed it, with that decision's knobs and checkpoint rule
                    rule = retried.rule();
                    below = rule.mode() == RestoreRule.Mode.EXACT ? rule.step() + 1 : null;
                    decision = withReason(new RemediationLadder.Decision(decision.action(), retried.knobs(),
                            decision.consumesBudget(), decision.backoff(), decision.reasons()), "generation "
                            + d.generation() + " never trained: a retry of incident #" + retried.incidentId()
                            + "'s restart, with its knobs and its checkpoint rule (" + rule.mode() + ")");
                } else {
                    rule = manual != null && manual.checkpointStep() != null
                            ? RestoreRule.exact(manual.checkpointStep())
                            : d.kind() == IncidentKind.DIVERGENCE
                            ? RestoreRule.beforeDivergence(d.onsetStep(), d.divergenceKind().name())
                            : RestoreRule.LATEST;
                }
                Checkpoints.Choice choice = checkpoints.pick(run.getId(), rule, policy, below);
                if (manual != null && rule.mode() == RestoreRule.Mode.EXACT && choice.chosen().isEmpty()) {
                    throw notRestorable(run.getId(), rule.step(), choice);
                }
                skipped = choice.skipped();
                restore = choice.chosen().orElse(null);
                if (restore == null && (rule.mode() == RestoreRule.Mode.BEFORE_DIVERGENCE
                        || checkpoints.anyReported(run.getId()))) {
                    // never silently from scratch once the run has checkpoints: that would throw the run away
                    decision = new RemediationLadder.Decision(RemediationLadder.Action.PAUSE_AND_CALL_HUMAN,
                            RestartKnobs.NONE, false, Duration.ZERO, withReason(decision,
                            rule.mode() == RestoreRule.Mode.BEFORE_DIVERGENCE
                                    ? "no checkpoint is complete, healthy and before the onset minus the margin"
                                    : "the run has checkpoints but none is usable: a human decides, rather than a"
                                    + " restart from scratch").reasons());
                } else if (restore == null) {
                    decision = withReason(decision, "no checkpoint yet: restart from scratch");
                }
            }
            IncidentState incidentState = switch (decision.action()) {
                case PAUSE_AND_CALL_HUMAN -> IncidentState.NEEDS_HUMAN;
                case STOP_NO_PROGRESS -> IncidentState.STOPPED;
                default -> IncidentState.RECOVERING;
            };
            Instant restartAfter = joined != null ? joined.request().notBefore()
                    : joinedLate != null ? null : decision.restarts() ? now.plus(decision.backoff()) : null;
            NodeView node = d.nodeId() == null ? null : nodes.view(d.nodeId());
            long incidentId = incidents.insert(new Incidents.NewIncident(run.getId(), d.kind(), d.cause(), d.summary(),
                    incidentState, now, d.lastHeartbeatAt(), joinedLate != null ? d.generation() : run.getGeneration(),
                    d.nodeId(),
                    node == null ? null : node.name(), d.rank(), d.onsetStep(),
                    d.divergenceKind() == null ? null : d.divergenceKind().name(), d.evidence(),
                    IncidentResponse.DecisionView.of(decision),
                    restore == null ? null : new IncidentResponse.RestorePoint(restore.step(), restore.path()),
                    skipped, restartAfter, d.detectionLatency()));
            String why = "incident #" + incidentId + " (" + d.kind() + "): " + d.summary();
            Map<String, Object> alert = alertData(run, incidentId, d, why);
            alerts.publish(AlertEventType.INCIDENT_OPENED, run.getId().toString(), alert);
            switch (decision.action()) {
                case PAUSE_AND_CALL_HUMAN -> {
                    stateMachine.transition(run, RunState.PAUSING, why + "; needs a human", ACTOR);
                    alerts.publish(AlertEventType.HUMAN_NEEDED, run.getId().toString(), alert);
                    if (d.ladder() == RemediationLadder.Incident.USER_CODE_CRASH) {
                        alerts.publish(AlertEventType.RESTART_BUDGET_EXHAUSTED, run.getId().toString(), alert);
                        metrics.restartBudgetExhausted(true);
                    }
                }
                case STOP_NO_PROGRESS -> {
                    stateMachine.transition(run, RunState.FAILED, why + "; restarts make no progress", ACTOR);
                    alerts.publish(AlertEventType.RESTART_BUDGET_EXHAUSTED, run.getId().toString(), alert);
                    metrics.restartBudgetExhausted(false);
                    sparesFreed.addAll(placer.releaseSeatsOfEnded(run.getId(), now));
                }
                default -> {
                    if (joined != null) {
                        restarts.join(run.getId(), d.nodeId());
                        break; // the restart it joins is counted and under way
                    }
                    if (joinedLate != null) {
                        UUID took = d.rank() == null ? null : placements.seatOf(run.getId(), run.getGeneration(),
                                d.rank()).map(Placements.Row::nodeId).orElse(null);
                        incidents.placedLate(incidentId, run.getGeneration(), took,
                                took == null ? null : nodes.view(took).name());
                        break; // counted and placed already
                    }
                    if (restore != null && rule.mode() != RestoreRule.Mode.LATEST_USABLE) {
                        checkpoints.abandonAfter(run.getId(), restore.step());
                    }
                    restarts.request(run.getId(), run.getGeneration(), new RestartRequests.Request(incidentId, restore,
                            rule, decision.knobs(), d.kind().replacesNode() && d.nodeId() != null
                            ? Set.of(d.nodeId()) : Set.of(), restartAfter), now);
                    if (state != RunState.RECOVERING) {
                        stateMachine.transition(run, RunState.RECOVERING, why, ACTOR);
                    }
                    metrics.restarted(d.cause());
                }
            }
            return incidentId;
        });
        if (id == null) {
            return Optional.empty();
        }
        if (d.detectionLatency() != null) {
            metrics.detected(d.kind(), d.detectionLatency().isNegative() ? Duration.ZERO : d.detectionLatency());
        }
        if (d.kind() == IncidentKind.STRAGGLER && d.nodeId() != null) {
            cordon(d.nodeId(), "persistent straggler (incident #" + id + ")", ACTOR);
        }
        for (UUID spare : sparesFreed) {
            if (nodes.state(spare) == NodeState.SPARE) {
                nodes.releaseSpare(spare, ACTOR);
            }
        }
        log.warn("Run {}: incident #{} {}: {}", d.runId(), id, d.kind(), d.summary());
        return Optional.of(id);
    }

    /**
     * A restart under way cannot be carried out (its checkpoints all proved unusable since the decision): the run
     * pauses and its incident waits for a human. Called inside the scheduling pass's transaction.
     */
    void callHuman(UUID runId, long incidentId, String why) {
        Run run = runs.findForUpdate(runId).orElseThrow();
        if (run.getState() != RunState.RECOVERING) {
            return;
        }
        incidents.needsHuman(incidentId, why);
        stateMachine.transition(run, RunState.PAUSING, "incident #" + incidentId + ": " + why, ACTOR);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("runId", runId.toString());
        data.put("runName", run.getName());
        data.put("incidentId", incidentId);
        data.put("summary", "incident #" + incidentId + ": " + why);
        alerts.publish(AlertEventType.HUMAN_NEEDED, runId.toString(), data);
    }

    private static RemediationLadder.Decision withReason(RemediationLadder.Decision d, String reason) {
        List<String> reasons = new ArrayList<>(d.reasons());
        reasons.add(reason);
        return new RemediationLadder.Decision(d.action(), d.knobs(), d.consumesBudget(), d.backoff(), reasons);
    }

    private static UnprocessableException notRestorable(UUID runId, long step, Checkpoints.Choice choice) {
        return choice.skipped().stream().filter(s -> s.step() == step).findFirst()
                .map(s -> new UnprocessableException("checkpointStep", "the checkpoint of step " + step + " is "
                        + s.reason()))
                .orElse(new UnprocessableException("checkpointStep", "run " + runId
                        + " has no usable checkpoint at step " + step));
    }

    private RemediationLadder.History history(Run run) {
        List<Long> gains = new ArrayList<>();
        for (Incidents.RestartedGeneration g : incidents.restartedGenerations(run.getId())) {
            long base = g.restoreStep() == null ? -1 : g.restoreStep();
            gains.add(g.maxStep() == null ? 0 : Math.max(0, g.maxStep() - base));
        }
        return new RemediationLadder.History(incidents.divergenceRollbacks(run.getId()),
                incidents.budgetedRestarts(run.getId()), gains);
    }

    void cordon(UUID nodeId, String reason, String actor) {
        NodeState state = nodes.state(nodeId);
        if (state.canBecome(NodeState.CORDONED) && state != NodeState.FAILED) {
            try {
                nodes.cordon(nodeId, reason, actor);
            } catch (ConflictException e) {
                log.info("Node {} changed state while being cordoned: {}", nodeId, e.getMessage());
            }
        }
    }

    private static Map<String, Object> alertData(Run run, long incidentId, Detection d, String summary) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("runId", run.getId().toString());
        data.put("runName", run.getName());
        data.put("incidentId", incidentId);
        data.put("kind", d.kind().name());
        data.put("cause", d.cause().name());
        data.put("generation", d.generation());
        if (d.nodeId() != null) {
            data.put("nodeId", d.nodeId().toString());
        }
        data.put("summary", summary);
        return data;
    }
}
