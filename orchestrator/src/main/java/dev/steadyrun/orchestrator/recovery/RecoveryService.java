package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.alert.AlertEventType;
import dev.steadyrun.orchestrator.alert.AlertOutbox;
import dev.steadyrun.orchestrator.node.GpuFaults;
import dev.steadyrun.orchestrator.node.LeaseRecord;
import dev.steadyrun.orchestrator.node.LeaseTable;
import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeState;
import dev.steadyrun.orchestrator.node.NodeStateChanged;
import dev.steadyrun.orchestrator.node.NodeView;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.run.RunSpec;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunStateMachine;
import dev.steadyrun.orchestrator.run.RunTelemetry;
import dev.steadyrun.orchestrator.scheduling.Generations;
import dev.steadyrun.orchestrator.scheduling.NodeDirectives;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.UnprocessableException;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.ObjectMapper;

/**
 * Carries out automatic recovery; the pure classes of this package decide. Detection arrives from the lease sweep
 * and heartbeats (node events, trainer exits), from step reports (divergence, stragglers, the first step of a new
 * generation) and from {@link #watch} (the hang backstop). Each incident is written with its evidence and the
 * ladder's decision, and moves the run in the same transaction, under the run's row lock:
 * <ul>
 *   <li>a restart: the run turns RECOVERING, its nodes are told to stop; {@link #advance}, called by the scheduling
 *       pass under its lock once every old rank stopped and the backoff passed, places the next generation
 *       (healthy nodes kept, a lost or swapped node's rank to a spare or a free node) and the run turns STARTING
 *       with the chosen checkpoint and knobs;</li>
 *   <li>a call for a human: the run pauses; no progress over several restarts: the run fails.</li>
 * </ul>
 * The first step reported by the new generation settles the incident (RECOVERED, time to recovery).
 */
@Service
public class RecoveryService implements SmartInitializingSingleton {

    public static final String ACTOR = "system:recovery";

    private static final Logger log = LoggerFactory.getLogger(RecoveryService.class);
    private static final int LOG_TAIL_LINES = 50;

    /** What a detector found, before the decision. */
    private record Detection(UUID runId, long generation, IncidentKind kind, IncidentCause cause,
                             RemediationLadder.Incident ladder, String summary, UUID nodeId, Integer rank,
                             Long onsetStep, Divergence.Kind divergenceKind, Map<String, Object> evidence,
                             Instant lastHeartbeatAt, Duration detectionLatency) {
    }

    /** An operator's restart or swap: its own decision, optionally its own checkpoint. */
    private record Manual(RemediationLadder.Decision decision, Long checkpointStep) {
    }

    private final RunRepository runs;
    private final RunStateMachine stateMachine;
    private final RunTelemetry telemetry;
    private final Incidents incidents;
    private final Placements placements;
    private final Generations generations;
    private final NodeRegistry nodes;
    private final LeaseTable leases;
    private final AlertOutbox alerts;
    private final RecoveryMetrics metrics;
    private final RecoveryProperties props;
    private final JdbcTemplate jdbc;
    private final ObjectMapper json;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final Map<UUID, RunWatch> watches = new ConcurrentHashMap<>();

    RecoveryService(RunRepository runs, RunStateMachine stateMachine, RunTelemetry telemetry, Incidents incidents,
                    Placements placements, Generations generations, NodeRegistry nodes, LeaseTable leases,
                    AlertOutbox alerts, RecoveryMetrics metrics, RecoveryProperties props, JdbcTemplate jdbc,
                    ObjectMapper json, PlatformTransactionManager transactions, Clock clock) {
        this.props = props;
        this.runs = runs;
        this.stateMachine = stateMachine;
        this.telemetry = telemetry;
        this.incidents = incidents;
        this.placements = placements;
        this.generations = generations;
        this.nodes = nodes;
        this.leases = leases;
        this.alerts = alerts;
        this.metrics = metrics;
        this.jdbc = jdbc;
        this.json = json;
        this.tx = new TransactionTemplate(transactions);
        this.clock = clock;
    }

    // ------------------------------------------------------------------ detection

    /** A node holding a live rank was lost (lease expired), failed (fatal GPU fault) or is being drained. */
    @EventListener
    void onNodeStateChanged(NodeStateChanged e) {
        if (e.to() != NodeState.SUSPECT && e.to() != NodeState.FAILED && e.to() != NodeState.DRAINING) {
            return;
        }
        Optional<Placements.Row> seat = placements.rankOf(e.nodeId());
        if (seat.isEmpty()) {
            return;
        }
        LeaseRecord lease = leases.get(e.nodeId());
        String name = nodes.view(e.nodeId()).name();
        Placements.Row row = seat.get();
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("nodeState", e.to().name());
        evidence.put("reason", e.reason());
        Detection d;
        if (e.to() == NodeState.DRAINING) {
            d = new Detection(row.runId(), row.generation(), IncidentKind.NODE_SWAP, IncidentCause.OPERATOR,
                    RemediationLadder.Incident.HARDWARE, "node " + name + " is being drained: its rank moves",
                    e.nodeId(), row.rank(), null, null, evidence, null, null);
        } else if (lease != null && lease.leaseExpired(e.at())) {
            Instant last = lease.lastSeen();
            Duration silent = last == null ? null : Duration.between(last, e.at());
            d = new Detection(row.runId(), row.generation(), IncidentKind.NODE_LOST, IncidentCause.HARDWARE,
                    RemediationLadder.Incident.HARDWARE, "node " + name + " lost: "
                    + (silent == null ? "never heartbeat" : String.format("no heartbeat for %.1f s", silent.toMillis() / 1000.0))
                    + String.format(" (lease %.1f s)", lease.leaseDuration().toMillis() / 1000.0),
                    e.nodeId(), row.rank(), null, null, evidence, last, silent);
        } else if (e.to() == NodeState.FAILED) {
            List<Integer> xids = lease == null || lease.gpus() == null ? List.of() : lease.gpus().stream()
                    .flatMap(g -> g.xidErrors() == null ? java.util.stream.Stream.<Integer>empty() : g.xidErrors().stream())
                    .toList();
            xids.stream().filter(x -> GpuFaults.classify(x).severity() == GpuFaults.Severity.FATAL).findFirst()
                    .ifPresent(x -> evidence.put("xid", x));
            evidence.put("xids", xids);
            d = new Detection(row.runId(), row.generation(), IncidentKind.GPU_FAULT, IncidentCause.HARDWARE,
                    RemediationLadder.Incident.HARDWARE, "node " + name + " GPU fault: " + e.reason(), e.nodeId(),
                    row.rank(), null, null, evidence, null, Duration.ZERO);
        } else {
            return; // SUSPECT for a degraded GPU: the node keeps working
        }
        open(d, null);
    }

    /** A run that ended leaves no incident waiting to settle (in the transaction of the run's transition). */
    @EventListener
    void onRunStateChanged(RunStateMachine.RunStateChanged e) {
        if (e.to().isTerminal()) {
            incidents.closeForEndedRun(e.runId(), "the run ended (" + e.to() + ") before this incident settled");
        }
    }

    /** A trainer of a live run's current generation exited non-zero (heartbeat thread). */
    @EventListener
    void onTrainerExited(NodeDirectives.TrainerExited e) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("exitCode", e.exitCode());
        List<String> tail = e.logTail();
        evidence.put("logTail", tail.size() > LOG_TAIL_LINES ? tail.subList(tail.size() - LOG_TAIL_LINES, tail.size()) : tail);
        String name = nodes.view(e.nodeId()).name();
        Long lastStep = lastStepOf(e.runId(), e.generation(), e.rank());
        if (e.threadDump() != null) { // the agent's watchdog killed a trainer whose step stopped advancing
            evidence.put(e.threadDump().startsWith(TrainerStatus.NO_THREAD_DUMP) ? "threadDumpUnavailable" : "threadDump",
                    e.threadDump());
            Optional<Long> opened = open(new Detection(e.runId(), e.generation(), IncidentKind.HANG,
                    IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.HANG, "rank " + e.rank() + " on " + name
                    + " hung (killed by the agent's watchdog" + (lastStep == null ? "" : " at step " + lastStep) + ")",
                    e.nodeId(), e.rank(), lastStep, null, evidence, null, null), null);
            if (opened.isEmpty()) { // the orchestrator's backstop came first: its incident gets the agent's evidence
                incidents.attachToHang(e.runId(), e.generation(), evidence);
            }
            return;
        }
        boolean userCode = ExitCodes.meaningOf(e.exitCode()) == ExitCodes.Meaning.USER_CODE;
        if (e.exitCode() == ExitCodes.CORRUPT_CHECKPOINT) {
            Optional<Long> corrupt = markRestoreCorrupt(e.runId(), e.generation());
            corrupt.ifPresent(step -> evidence.put("corruptCheckpointStep", step));
            if (corrupt.isPresent() && runs.findById(e.runId()).map(Run::getState).orElse(null) == RunState.RECOVERING) {
                return; // a peer's exit opened the restart already; it restores an older checkpoint when placed
            }
        }
        open(new Detection(e.runId(), e.generation(), IncidentKind.TRAINER_CRASH,
                userCode ? IncidentCause.USER_CODE : IncidentCause.INFRASTRUCTURE,
                userCode ? RemediationLadder.Incident.USER_CODE_CRASH : RemediationLadder.Incident.INFRASTRUCTURE_CRASH,
                "rank " + e.rank() + " on " + name + " exited " + e.exitCode() + " ("
                        + (userCode ? "user code" : "infrastructure") + ")",
                e.nodeId(), e.rank(), lastStep, null, evidence, null, null), null);
    }

    /** Steps a rank reported (accepted, after commit): divergence, stragglers, and the first step of a restart. */
    public void onSteps(UUID runId, long generation, int rank, List<StepMetrics> steps) {
        Instant now = clock.instant();
        RunWatch watch = watchOf(runId, generation, now);
        if (watch == null) {
            return;
        }
        RunWatch.Seen seen;
        synchronized (watch) {
            seen = watch.accept(rank, steps, now);
        }
        if (seen.firstStep()) {
            recovered(runId, generation, now);
        }
        seen.divergence().ifPresent(d -> {
            Map<String, Object> evidence = new LinkedHashMap<>();
            evidence.put("rule", d.kind().name());
            evidence.put("reason", d.reason());
            evidence.put("detectedAtStep", d.detectedAt());
            evidence.put("metrics", d.evidence());
            open(new Detection(runId, generation, IncidentKind.DIVERGENCE, IncidentCause.DIVERGENCE,
                    RemediationLadder.Incident.DIVERGENCE, "loss diverged at step " + d.onsetStep() + ": "
                    + d.reason(), null, null, d.onsetStep(), d.kind(), evidence, null, Duration.ZERO), null);
        });
        seen.window().filter(w -> !w.stragglers().isEmpty()).ifPresent(w -> {
            int slow = w.stragglers().get(0);
            Optional<Placements.Row> seat = placements.ranksOf(runId, generation).stream()
                    .filter(r -> r.rank() == slow).findFirst();
            if (seat.isEmpty()) {
                return;
            }
            Map<String, Object> evidence = new LinkedHashMap<>();
            Map<String, Double> scores = new LinkedHashMap<>();
            w.scores().forEach((r, s) -> scores.put(String.valueOf(r), s));
            evidence.put("stragglerScores", scores);
            evidence.put("stragglers", w.stragglers());
            UUID node = seat.get().nodeId();
            open(new Detection(runId, generation, IncidentKind.STRAGGLER, IncidentCause.HARDWARE,
                    RemediationLadder.Incident.STRAGGLER, String.format("rank %d on %s is a persistent straggler"
                    + " (score %.2f)", slow, nodes.view(node).name(), w.scores().get(slow)), node, slow, null,
                    null, evidence, null, null), null);
        });
    }

    /**
     * The hang backstop over every live run's progress, and the goodput gauges. Called every
     * {@code steadyrun.recovery.watch-interval}; tests call it with their clock.
     *
     * @return whether a run is recovering (its restart may be due)
     */
    public boolean watch(Instant now) {
        List<RecoveryMetrics.Goodput> goodput = new ArrayList<>();
        List<Run> live = runs.findLiveOldestFirst();
        for (Run run : live) {
            RunWatch watch = watchOf(run.getId(), run.getGeneration(), now);
            if (watch == null) {
                continue; // the run moved on (or is gone) since it was listed
            }
            Duration grace = props.hangBackstopGrace();
            Optional<HangDetector.Hang> hang;
            synchronized (watch) {
                hang = watch.hang(now.minus(grace)); // judged as of `grace` ago: stuck for longer than limit + grace
            }
            hang.ifPresent(h -> {
                Duration stalled = h.stalledFor().plus(grace);
                int rank = h.ranks().get(0);
                Placements.Row seat = placements.ranksOf(run.getId(), run.getGeneration()).stream()
                        .filter(r -> r.rank() == rank).findFirst().orElse(null);
                Map<String, Object> evidence = new LinkedHashMap<>();
                evidence.put("ranks", h.ranks());
                evidence.put("stalledForSeconds", stalled.toMillis() / 1000.0);
                evidence.put("limitSeconds", h.limit().toMillis() / 1000.0);
                evidence.put("backstopGraceSeconds", grace.toMillis() / 1000.0);
                evidence.put("threadDumpUnavailable", TrainerStatus.NO_THREAD_DUMP + "detected by the orchestrator"
                        + " from step reports; the agent's watchdog takes thread dumps");
                open(new Detection(run.getId(), run.getGeneration(), IncidentKind.HANG, IncidentCause.INFRASTRUCTURE,
                        RemediationLadder.Incident.HANG, String.format("ranks %s made no step for %.0f s (limit %.0f s)",
                        h.ranks(), stalled.toMillis() / 1000.0, h.limit().toMillis() / 1000.0),
                        seat == null ? null : seat.nodeId(), rank, h.step() < 0 ? null : h.step(), null, evidence,
                        null, stalled.minus(h.limit())), null);
            });
        }
        List<Run> measured = new ArrayList<>(live);
        List<Run> recovering = runs.findInStateOldestFirst(RunState.RECOVERING);
        measured.addAll(recovering);
        for (Run run : measured) {
            Double g = telemetry.goodput(run.getId(), run.getState(), run.getStateChangedAt(), now);
            if (g != null) {
                goodput.add(new RecoveryMetrics.Goodput(run.getId(), g));
            }
        }
        metrics.goodput(goodput);
        Set<UUID> liveIds = new HashSet<>();
        measured.forEach(r -> liveIds.add(r.getId()));
        watches.keySet().retainAll(liveIds);
        return !recovering.isEmpty();
    }

    // ------------------------------------------------------------------ operators

    public List<IncidentResponse> incidentsOfRun(UUID runId) {
        runs.findById(runId).orElseThrow(() -> RunService.notFound(runId));
        return incidents.ofRun(runId);
    }

    public List<IncidentResponse> incidentsOfNode(UUID nodeId) {
        nodes.view(nodeId); // 404 for an unknown node
        return incidents.ofNode(nodeId);
    }

    /** {@code POST /runs/{id}/restart}: all-or-nothing at a new generation, from a chosen checkpoint. */
    public IncidentResponse restart(UUID runId, RestartRequest request, String actor) {
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
        long id = open(new Detection(runId, run.getGeneration(), IncidentKind.MANUAL_RESTART, IncidentCause.OPERATOR,
                null, "restart requested by " + actor + (r.reason() == null ? "" : ": " + r.reason()), null, null,
                null, null, evidence, null, null), new Manual(decision, r.checkpointStep()))
                .orElseThrow(() -> new ConflictException("run " + runId + " is not STARTING, RUNNING or RECOVERING"));
        return incidents.find(id).orElseThrow();
    }

    /** {@code POST /nodes/{id}/swap}: cordon the node, move its rank, restart the run at a new generation. */
    public IncidentResponse swap(UUID nodeId, String actor) {
        NodeView node = nodes.view(nodeId);
        Placements.Row seat = placements.rankOf(nodeId).orElseThrow(() -> new ConflictException(
                "node " + node.name() + " holds no rank of a STARTING or RUNNING run"));
        RemediationLadder.Decision decision = new RemediationLadder.Decision(
                RemediationLadder.Action.SWAP_NODE_AND_RESTART, RestartKnobs.NONE, false, Duration.ZERO,
                List.of("swap requested by " + actor + ": cordon " + node.name() + ", give rank " + seat.rank()
                        + " to a spare (or a free healthy node), restart every rank from the newest complete checkpoint"));
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("requestedBy", actor);
        long id = open(new Detection(seat.runId(), seat.generation(), IncidentKind.NODE_SWAP, IncidentCause.OPERATOR,
                null, "swap of node " + node.name() + " requested by " + actor, nodeId, seat.rank(), null, null,
                evidence, null, null), new Manual(decision, null))
                .orElseThrow(() -> new ConflictException("node " + node.name() + " holds no rank of a STARTING or"
                        + " RUNNING run (its run is " + runs.findById(seat.runId()).map(Run::getState).orElse(null) + ")"));
        cordon(nodeId, "swapped out of its run by " + actor, actor);
        return incidents.find(id).orElseThrow();
    }

    // ------------------------------------------------------------------ acting

    /**
     * Records the incident and its decision and moves the run, under the run's row lock. Empty when the run is no
     * longer at the incident's generation in a live state (another incident came first): old-generation trainers
     * exiting while the run recovers open nothing.
     */
    private Optional<Long> open(Detection d, Manual manual) {
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
            Incidents.PendingRestart joined = manual == null && d.kind().replacesNode() && state == RunState.RECOVERING
                    ? incidents.pendingRestart(run.getId()).orElse(null) : null;
            if (!(live || operatorRestart && state == RunState.RECOVERING || joined != null)
                    || !operatorRestart && run.getGeneration() != d.generation()) {
                return null;
            }
            if (joined != null && incidents.nodesToReplace(run.getId()).contains(d.nodeId())) {
                return null; // one loss, one incident: a node lost at its lease's end later turns FAILED too
            }
            RecoveryPolicy policy = policyOf(run);
            RemediationLadder.Decision decision;
            if (joined != null) {
                decision = new RemediationLadder.Decision(RemediationLadder.Action.SWAP_NODE_AND_RESTART,
                        joined.knobs(), false, Duration.ZERO, List.of("a node holding a rank is lost while the run"
                        + " recovers: this joins the restart of incident #" + joined.id() + " (same checkpoint, same"
                        + " knobs) and its rank moves to another node"));
            } else {
                decision = manual != null ? manual.decision()
                        : new RemediationLadder(policy).decide(d.ladder(), history(run));
            }
            IncidentResponse.RestorePoint restore = joined == null ? null : joined.restore();
            List<CheckpointPicker.Skip> skipped = List.of();
            if (decision.restarts() && joined == null) {
                Map<Long, String> paths = new LinkedHashMap<>();
                List<CheckpointPicker.Candidate> candidates = candidates(run.getId(), d.divergenceKind(), paths);
                CheckpointPicker picker = new CheckpointPicker(policy);
                CheckpointPicker.Pick pick;
                if (manual != null && manual.checkpointStep() != null) {
                    long wanted = manual.checkpointStep();
                    CheckpointPicker.Candidate chosen = candidates.stream().filter(c -> c.step() == wanted).findFirst()
                            .orElseThrow(() -> new UnprocessableException("checkpointStep",
                                    "run " + run.getId() + " has no usable checkpoint at step " + wanted));
                    if (chosen.corrupt()) {
                        throw new UnprocessableException("checkpointStep", "the checkpoint of step " + wanted
                                + " is corrupt: a restore from it failed");
                    }
                    pick = new CheckpointPicker.Pick(Optional.of(chosen), candidates.stream()
                            .filter(c -> c.step() > wanted).sorted((a, b) -> Long.compare(b.step(), a.step()))
                            .map(c -> new CheckpointPicker.Skip(c.step(), "newer than the chosen checkpoint")).toList());
                } else if (d.kind() == IncidentKind.DIVERGENCE) {
                    pick = picker.beforeDivergence(candidates, d.onsetStep());
                } else {
                    pick = picker.latestUsable(candidates);
                }
                skipped = pick.skipped();
                if (pick.chosen().isPresent()) {
                    long step = pick.chosen().get().step();
                    restore = new IncidentResponse.RestorePoint(step, paths.get(step));
                } else if (d.kind() == IncidentKind.DIVERGENCE) {
                    List<String> reasons = new ArrayList<>(decision.reasons());
                    reasons.add("no checkpoint is complete, healthy and before the onset minus the margin");
                    decision = new RemediationLadder.Decision(RemediationLadder.Action.PAUSE_AND_CALL_HUMAN,
                            RestartKnobs.NONE, false, Duration.ZERO, reasons);
                } else {
                    List<String> reasons = new ArrayList<>(decision.reasons());
                    reasons.add("no usable checkpoint: restart from scratch");
                    decision = new RemediationLadder.Decision(decision.action(), decision.knobs(),
                            decision.consumesBudget(), decision.backoff(), reasons);
                }
            }
            IncidentState incidentState = switch (decision.action()) {
                case PAUSE_AND_CALL_HUMAN -> IncidentState.NEEDS_HUMAN;
                case STOP_NO_PROGRESS -> IncidentState.STOPPED;
                default -> IncidentState.RECOVERING;
            };
            NodeView node = d.nodeId() == null ? null : nodes.view(d.nodeId());
            long incidentId = incidents.insert(new Incidents.NewIncident(run.getId(), d.kind(), d.cause(), d.summary(),
                    incidentState, now, d.lastHeartbeatAt(), run.getGeneration(), d.nodeId(),
                    node == null ? null : node.name(), d.rank(), d.onsetStep(),
                    d.divergenceKind() == null ? null : d.divergenceKind().name(), d.evidence(),
                    IncidentResponse.DecisionView.of(decision), restore, skipped,
                    joined != null ? joined.restartAfter() : decision.restarts() ? now.plus(decision.backoff()) : null,
                    d.detectionLatency()));
            String why = "incident #" + incidentId + " (" + d.kind() + "): " + d.summary();
            Map<String, Object> alert = alertData(run, incidentId, d, why);
            alerts.publish(AlertEventType.INCIDENT_OPENED, run.getId().toString(), alert);
            switch (decision.action()) {
                case PAUSE_AND_CALL_HUMAN -> {
                    stateMachine.transition(run, RunState.PAUSING, why + "; needs a human", ACTOR);
                    alerts.publish(AlertEventType.HUMAN_NEEDED, run.getId().toString(), alert);
                    if (d.ladder() == RemediationLadder.Incident.USER_CODE_CRASH) {
                        alerts.publish(AlertEventType.RESTART_BUDGET_EXHAUSTED, run.getId().toString(), alert);
                    }
                }
                case STOP_NO_PROGRESS -> {
                    stateMachine.transition(run, RunState.FAILED, why + "; restarts make no progress", ACTOR);
                    alerts.publish(AlertEventType.RESTART_BUDGET_EXHAUSTED, run.getId().toString(), alert);
                    sparesFreed.addAll(placements.releaseSpares(run.getId(), now));
                    releaseGone(run.getId(), now);
                }
                default -> {
                    if (joined != null) {
                        break; // the restart it joins is counted and under way
                    }
                    if (restore != null && (d.kind() == IncidentKind.DIVERGENCE
                            || manual != null && manual.checkpointStep() != null)) {
                        jdbc.update("update checkpoint set abandoned = true where run_id = ? and step > ?",
                                run.getId(), restore.step());
                    }
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
     * Restarts every recovering run whose old generation stopped and whose backoff passed: the next generation keeps
     * the healthy nodes and gives each lost, failed, cordoned or swapped node's rank to one of the run's spares or a
     * free healthy node that matches its selector (none: the run waits, and its incident says so). Called by the
     * scheduling pass inside its transaction, under its lock: the pass and this never race.
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public void advance(Instant now) {
        for (Run seen : runs.findInStateOldestFirst(RunState.RECOVERING)) {
            Run run = runs.findForUpdate(seen.getId()).orElseThrow();
            if (run.getState() != RunState.RECOVERING) {
                continue;
            }
            Incidents.PendingRestart pending = incidents.pendingRestart(run.getId()).orElse(null);
            if (pending == null) {
                continue;
            }
            releaseGone(run.getId(), now);
            List<Placements.Row> active = placements.active(run.getId());
            if (active.stream().anyMatch(r -> r.rank() != null)
                    || pending.restartAfter() != null && now.isBefore(pending.restartAfter())) {
                continue; // an old rank still runs: all-or-nothing
            }
            List<Placements.Row> old = placements.ranksOf(run.getId(), run.getGeneration());
            if (old.stream().anyMatch(r -> unjudged(r.nodeId(), now))) {
                continue; // a silent node the lease sweep has yet to call lost: its incident joins this restart first
            }
            RunSpec spec = json.readValue(run.getSpec(), RunSpec.class);
            Set<UUID> replace = incidents.nodesToReplace(run.getId());
            Set<UUID> busy = placements.activeNodeIds();
            Deque<UUID> spares = new ArrayDeque<>(active.stream().filter(r -> r.rank() == null)
                    .map(Placements.Row::nodeId).filter(n -> nodes.state(n) == NodeState.SPARE).toList());
            Set<UUID> oldNodes = new HashSet<>();
            old.forEach(r -> oldNodes.add(r.nodeId()));
            Set<UUID> held = placements.heldForRecoveryOfOthers(run.getId());
            Deque<UUID> free = new ArrayDeque<>(nodes.availableNodes().stream()
                    .filter(n -> spec.selects(n.labels()) && !busy.contains(n.id()) && !oldNodes.contains(n.id())
                            && !held.contains(n.id()))
                    .map(NodeView::id).toList());
            List<UUID> seats = new ArrayList<>();
            List<UUID> usedSpares = new ArrayList<>();
            List<UUID> swappedIn = new ArrayList<>();
            for (int rank = 0; rank < run.getWorldSize(); rank++) {
                final int r = rank;
                UUID node = old.stream().filter(p -> p.rank() == r).map(Placements.Row::nodeId).findFirst().orElse(null);
                if (node != null && nodes.state(node) == NodeState.HEALTHY && !replace.contains(node)
                        && !busy.contains(node)) {
                    seats.add(node);
                    continue;
                }
                UUID sub = spares.poll();
                if (sub != null) {
                    usedSpares.add(sub);
                } else {
                    sub = free.poll();
                }
                if (sub == null) {
                    break;
                }
                seats.add(sub);
                swappedIn.add(sub);
            }
            if (seats.size() < run.getWorldSize()) {
                incidents.waiting(pending.id(), "waiting for a spare: no spare of the run and no free healthy node"
                        + (spec.nodeSelector().isEmpty() ? "" : " matching " + spec.nodeSelector())
                        + " for " + (run.getWorldSize() - seats.size()) + " rank(s)");
                continue;
            }
            placements.releaseSpares(run.getId(), now);
            List<UUID> keptSpares = new ArrayList<>(spares);
            IncidentResponse.RestorePoint point = restorable(run, pending);
            Generations.Restore restore = point == null ? Generations.Restore.SCRATCH
                    : new Generations.Restore(point.step(), point.path());
            long generation = generations.start(run, seats, keptSpares, restore, pending.knobs(), pending.id(), now);
            UUID first = swappedIn.isEmpty() ? null : swappedIn.get(0);
            String firstName = first == null ? null : nodes.view(first).name();
            incidents.placed(run.getId(), generation, first, firstName);
            stateMachine.transition(run, RunState.STARTING, "incident #" + pending.id() + ": restart at generation "
                    + generation + (restore.step() == null ? " from scratch" : " from step " + restore.step())
                    + (swappedIn.isEmpty() ? "" : "; swapped in " + swappedIn.stream()
                    .map(n -> nodes.view(n).name()).toList()), ACTOR);
            if (first != null) {
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("runId", run.getId().toString());
                data.put("incidentId", pending.id());
                data.put("generation", generation);
                data.put("nodeId", first.toString());
                data.put("summary", "node " + firstName + " took a rank of run " + run.getId() + " at generation "
                        + generation);
                alerts.publish(AlertEventType.NODE_SWAPPED, run.getId().toString(), data);
            }
            // Last: the node registry flushes and clears the persistence context, detaching the run.
            usedSpares.forEach(n -> nodes.releaseSpare(n, ACTOR));
        }
    }

    /**
     * The pending restart's checkpoint, unless a restore of it failed after the decision (rank 0's exit 3 may arrive
     * after a peer's exit opened the incident): then the newest older one that the same picker rules allow, recorded
     * on the incident. Anything older than the first pick already lies before a divergence's onset minus the margin.
     */
    private IncidentResponse.RestorePoint restorable(Run run, Incidents.PendingRestart pending) {
        IncidentResponse.RestorePoint first = pending.restore();
        if (first == null || !isCorrupt(run.getId(), first.step())) {
            return first;
        }
        RecoveryPolicy policy = policyOf(run);
        Map<Long, String> paths = new LinkedHashMap<>();
        List<CheckpointPicker.Candidate> older = candidates(run.getId(), pending.divergenceKind(), paths).stream()
                .filter(c -> c.step() < first.step()).toList();
        CheckpointPicker picker = new CheckpointPicker(policy);
        CheckpointPicker.Pick pick = pending.kind() == IncidentKind.DIVERGENCE
                ? picker.beforeDivergence(older, first.step() + policy.rollbackMarginSteps())
                : picker.latestUsable(older);
        IncidentResponse.RestorePoint next = pick.chosen()
                .map(c -> new IncidentResponse.RestorePoint(c.step(), paths.get(c.step()))).orElse(null);
        List<CheckpointPicker.Skip> skipped = new ArrayList<>();
        skipped.add(new CheckpointPicker.Skip(first.step(), "corrupt: a restore from it failed"));
        skipped.addAll(pick.skipped());
        incidents.restoreInstead(pending.id(), next, skipped);
        return next;
    }

    private boolean isCorrupt(UUID runId, long step) {
        return Boolean.TRUE.equals(jdbc.query("select corrupt from checkpoint where run_id = ? and step = ?",
                rs -> rs.next() && rs.getBoolean(1), runId, step));
    }

    /** Ranks on nodes that are gone (failed, or silent past their lease) count as stopped: fencing keeps them out. */
    private void releaseGone(UUID runId, Instant now) {
        for (Placements.Row row : placements.active(runId)) {
            LeaseRecord lease = leases.get(row.nodeId());
            if (row.rank() != null && (nodes.state(row.nodeId()) == NodeState.FAILED
                    || lease != null && lease.leaseExpired(now))) {
                placements.release(runId, row.nodeId(), row.generation(), now);
            }
        }
    }

    /** Silent past its lease but still HEALTHY: the lease sweep (every 250 ms) has not judged it yet. */
    private boolean unjudged(UUID nodeId, Instant now) {
        LeaseRecord lease = leases.get(nodeId);
        return lease != null && nodes.state(nodeId) == NodeState.HEALTHY && lease.leaseExpired(now);
    }

    /** The first step of a generation: the incidents it answers are recovered. */
    private void recovered(UUID runId, long generation, Instant now) {
        List<IncidentResponse> settled = tx.execute(status -> {
            int first = jdbc.update("""
                    update run_generation set first_step_at = ?
                    where run_id = ? and generation = ? and first_step_at is null""",
                    java.sql.Timestamp.from(now), runId, generation);
            if (first == 0) {
                return List.<IncidentResponse>of();
            }
            List<IncidentResponse> done = incidents.recovered(runId, generation, now);
            for (IncidentResponse i : done) {
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("runId", runId.toString());
                data.put("incidentId", i.id());
                data.put("kind", i.kind().name());
                data.put("generation", generation);
                data.put("timeToRecoverySeconds", i.timeToRecoverySeconds());
                data.put("summary", "run " + runId + " recovered from incident #" + i.id() + " (" + i.kind()
                        + ") at generation " + generation);
                alerts.publish(AlertEventType.INCIDENT_RESOLVED, runId.toString(), data);
            }
            return done;
        });
        settled.forEach(i -> metrics.recovered(i.kind(), Duration.between(i.detectedAt(), i.recoveredAt())));
    }

    // ------------------------------------------------------------------ helpers

    private RemediationLadder.History history(Run run) {
        List<Long> gains = new ArrayList<>();
        for (Incidents.RestartedGeneration g : incidents.restartedGenerations(run.getId())) {
            long base = g.restoreStep() == null ? -1 : g.restoreStep();
            gains.add(g.maxStep() == null ? 0 : Math.max(0, g.maxStep() - base));
        }
        return new RemediationLadder.History(incidents.divergenceRollbacks(run.getId()),
                incidents.budgetedRestarts(run.getId()), gains);
    }

    private List<CheckpointPicker.Candidate> candidates(UUID runId, Divergence.Kind kind, Map<Long, String> paths) {
        return jdbc.query("""
                select c.step, c.path, c.loss_scale, c.corrupt,
                       (select count(*) from incident i join run_generation g
                            on g.run_id = i.run_id and g.generation = i.generation
                        where i.run_id = c.run_id and i.kind = 'DIVERGENCE' and i.divergence_kind = ?
                          and g.restore_step = c.step) as same_endings
                from checkpoint c where c.run_id = ? and not c.abandoned and not c.removed order by c.step desc""", (rs, n) -> {
            paths.put(rs.getLong("step"), rs.getString("path"));
            return new CheckpointPicker.Candidate(rs.getLong("step"), rs.getDouble("loss_scale"),
                    rs.getBoolean("corrupt"), rs.getInt("same_endings"));
        }, kind == null ? "" : kind.name(), runId);
    }

    /** Exit 3 right after a restore: the checkpoint that generation restored is corrupt. */
    private Optional<Long> markRestoreCorrupt(UUID runId, long generation) {
        List<Long> steps = jdbc.queryForList("""
                update checkpoint c set corrupt = true from run_generation g
                where g.run_id = ? and g.generation = ? and c.run_id = g.run_id and c.step = g.restore_step
                returning c.step""", Long.class, runId, generation);
        return steps.stream().findFirst();
    }

    private Long lastStepOf(UUID runId, long generation, int rank) {
        return jdbc.queryForObject("select max(step) from run_metric where run_id = ? and generation = ? and rank = ?",
                Long.class, runId, generation, rank);
    }

    /**
     * At startup, before any report is served: every live run's detectors, rebuilt from the latest steps its current
     * generation stored, so that a restarted orchestrator judges the next report as the old one would have.
     */
    @Override
    public void afterSingletonsInstantiated() {
        rebuildWatches(clock.instant());
    }

    void rebuildWatches(Instant now) {
        watches.clear();
        List<Run> live = runs.findLiveOldestFirst();
        for (Run run : live) {
            try {
                watches.put(run.getId(), replayed(run, now));
            } catch (RuntimeException e) {
                // one run's bad row must not keep the orchestrator from starting; its watch starts empty on demand
                log.warn("Could not rebuild the detectors of run {}: {}", run.getId(), e.toString());
            }
        }
    }

    private RunWatch replayed(Run run, Instant now) {
        RunWatch watch = new RunWatch(run.getGeneration(), policyOf(run), run.getWorldSize(), now);
        jdbc.query("""
                select rank, step, loss, grad_norm, loss_scale, overflow, lr, tokens_per_sec, step_time_ms
                from run_metric where run_id = ? and generation = ?
                  and step > (select coalesce(max(step), 0) from run_metric
                              where run_id = ? and generation = ? and rank = 0) - ?
                order by step, rank""", rs -> {
            // what run_metric keeps: tokens seen, memory and activation norms are not in the detectors' rules
            watch.replay(rs.getInt("rank"), new StepMetrics(rs.getLong("step"), 0, rs.getDouble("loss"),
                    rs.getDouble("grad_norm"), rs.getDouble("loss_scale"), rs.getBoolean("overflow"),
                    rs.getDouble("lr"), rs.getDouble("tokens_per_sec"), rs.getDouble("step_time_ms"), 0,
                    List.of()), now);
        }, run.getId(), run.getGeneration(), run.getId(), run.getGeneration(), RunWatch.replaySteps(watch.policy));
        return watch;
    }

    private RunWatch watchOf(UUID runId, long generation, Instant now) {
        RunWatch current = watches.get(runId);
        if (current != null && current.generation >= generation) {
            return current.generation == generation ? current : null;
        }
        Run run = runs.findById(runId).orElse(null);
        if (run == null) {
            return null;
        }
        RunWatch fresh = new RunWatch(generation, policyOf(run), run.getWorldSize(), now);
        RunWatch kept = watches.merge(runId, fresh, (a, b) -> a.generation >= b.generation ? a : b);
        return kept.generation == generation ? kept : null;
    }

    private RecoveryPolicy policyOf(Run run) {
        return RecoveryPolicy.parse(json.readValue(run.getSpec(), RunSpec.class).recoveryPolicy());
    }

    private void cordon(UUID nodeId, String reason, String actor) {
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

    private static RestartKnobs knobs(RestartRequest.Knobs k) {
        if (k == null) {
            return RestartKnobs.NONE;
        }
        try {
            return new RestartKnobs(k.lrMultiplier(), k.lrOverride(), k.clipNorm(),
                    Boolean.TRUE.equals(k.resetLossScaler()), k.skipBatches() == null ? 0 : k.skipBatches(), k.optimizer());
        } catch (RestartKnobs.InvalidKnobException e) {
            throw new BadRequestException("knobs." + e.knob(), e.getMessage());
        }
    }
}
