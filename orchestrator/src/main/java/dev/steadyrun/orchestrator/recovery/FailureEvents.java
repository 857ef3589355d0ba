package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.MemorySnapshots;
import dev.steadyrun.orchestrator.node.GpuFaults;
import dev.steadyrun.orchestrator.node.LeaseRecord;
import dev.steadyrun.orchestrator.node.LeaseTable;
import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeState;
import dev.steadyrun.orchestrator.node.NodeStateChanged;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunTelemetry;
import dev.steadyrun.orchestrator.scheduling.Generations;
import dev.steadyrun.orchestrator.scheduling.NodeDirectives;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.PeerCheck;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Failures announced by events, turned into {@link Detection}s for {@link RecoveryActions}: a node holding a rank
 * was lost (its lease expired), failed (a fatal GPU fault) or is being drained; a trainer of a live run's current
 * generation exited non-zero (its exit code says what it means: {@link ExitCodes#meaningOf}).
 */
@Component
class FailureEvents {

    private static final int LOG_TAIL_LINES = 50;

    private final RecoveryActions actions;
    private final Incidents incidents;
    private final RunRepository runs;
    private final RunTelemetry telemetry;
    private final Placements placements;
    private final Generations generations;
    private final Checkpoints checkpoints;
    private final NodeRegistry nodes;
    private final LeaseTable leases;
    private final MemorySnapshots memorySnapshots;

    FailureEvents(RecoveryActions actions, Incidents incidents, RunRepository runs, RunTelemetry telemetry,
                  Placements placements, Generations generations, Checkpoints checkpoints, NodeRegistry nodes,
                  LeaseTable leases, MemorySnapshots memorySnapshots) {
        this.memorySnapshots = memorySnapshots;
        this.actions = actions;
        this.incidents = incidents;
        this.runs = runs;
        this.telemetry = telemetry;
        this.placements = placements;
        this.generations = generations;
        this.checkpoints = checkpoints;
        this.nodes = nodes;
        this.leases = leases;
    }

    /** A node holding a live rank was lost (lease expired), failed (fatal GPU fault) or is being drained. */
    @EventListener
    void onNodeStateChanged(NodeStateChanged e) {
        if (e.to() != NodeState.SUSPECT && e.to() != NodeState.FAILED && e.to() != NodeState.DRAINING) {
            return;
        }
        // or the seat a restart placed a moment ago left behind: the node's loss still gets its incident
        Optional<Placements.Row> seat = placements.rankOf(e.nodeId()).or(() -> placements.leftBehind(e.nodeId()));
        if (seat.isEmpty()) {
            return;
        }
        LeaseRecord lease = leases.get(e.nodeId());
        String name = nodes.view(e.nodeId()).name();
        Placements.Row row = seat.get();
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("nodeState", e.to().name());
        evidence.put("reason", e.reason());
        evidence.put("ranks", row.rankLabel()); // every rank of the node moves with it
        Detection d;
        if (e.to() == NodeState.DRAINING) {
            d = Detection.of(row.runId(), row.generation(), IncidentKind.NODE_SWAP, IncidentCause.OPERATOR,
                    RemediationLadder.Incident.HARDWARE, "node " + name + " is being drained: its rank moves",
                    e.nodeId(), row.rank(), null, evidence);
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
            // the GPU that failed the node: OPT cycled whole hosts out, but the operator repairs one GPU
            fatalGpu(lease).ifPresent(g -> evidence.put("gpu", g));
            evidence.put("xids", xids);
            d = new Detection(row.runId(), row.generation(), IncidentKind.GPU_FAULT, IncidentCause.HARDWARE,
                    RemediationLadder.Incident.HARDWARE, "node " + name + " GPU fault: " + e.reason(), e.nodeId(),
                    row.rank(), null, null, evidence, null, Duration.ZERO);
        } else {
            return; // SUSPECT for a degraded GPU: the node keeps working
        }
        actions.open(d, null);
    }

    /** The index of the first GPU whose last heartbeat carried a fatal XID. */
    private static Optional<Integer> fatalGpu(LeaseRecord lease) {
        return lease == null || lease.gpus() == null ? Optional.empty() : lease.gpus().stream()
                .filter(g -> g.xidErrors() != null && g.xidErrors().stream()
                        .anyMatch(x -> GpuFaults.classify(x).severity() == GpuFaults.Severity.FATAL))
                .map(GpuHealth::index).findFirst();
    }

    /** A trainer of a live run's current generation exited non-zero (heartbeat thread). */
    @EventListener
    void onTrainerExited(NodeDirectives.TrainerExited e) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("exitCode", e.exitCode());
        List<String> tail = e.logTail();
        evidence.put("logTail", tail.size() > LOG_TAIL_LINES ? tail.subList(tail.size() - LOG_TAIL_LINES, tail.size()) : tail);
        String name = nodes.view(e.nodeId()).name();
        Long lastStep = telemetry.lastStepOf(e.runId(), e.generation(), e.rank());
        String where = "rank " + e.rank() + " on " + name;
        if (e.threadDump() != null) { // the agent's watchdog killed a trainer whose step stopped advancing
            evidence.put(e.threadDump().startsWith(TrainerStatus.NO_THREAD_DUMP) ? "threadDumpUnavailable" : "threadDump",
                    e.threadDump());
            Optional<Long> opened = actions.open(Detection.of(e.runId(), e.generation(), IncidentKind.HANG,
                    IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.HANG, where + " hung (killed by the agent's"
                    + " watchdog" + (lastStep == null ? "" : " at step " + lastStep) + ")", e.nodeId(), e.rank(),
                    lastStep, evidence), null);
            if (opened.isEmpty()) { // the orchestrator's backstop came first: its incident gets the agent's evidence
                incidents.attachToHang(e.runId(), e.generation(), evidence);
            }
            return;
        }
        if (e.exitCode() == ExitCodes.PEER_LOST && peerUnreachable(e, where, evidence)) {
            return;
        }
        ExitCodes.Meaning meaning = ExitCodes.meaningOf(e.exitCode());
        switch (meaning) {
            case DIVERGED -> {
                // The trainer prints the step with the non-finite loss, then exits: the agent's last step is that step,
                // while its report may arrive after this heartbeat (or never); the stored steps bound it otherwise.
                long onset = e.lastStep() >= 0 ? e.lastStep() : lastStep == null ? 0 : lastStep + 1;
                evidence.put("rule", Divergence.Kind.NON_FINITE_LOSS.name());
                evidence.put("reason", "the trainer exited " + e.exitCode() + " (diverged): a non-finite loss");
                actions.open(new Detection(e.runId(), e.generation(), IncidentKind.DIVERGENCE, IncidentCause.DIVERGENCE,
                        RemediationLadder.Incident.DIVERGENCE, "loss diverged at step " + onset + ": " + where
                        + " exited " + e.exitCode() + " on a non-finite loss", null, null, onset,
                        Divergence.Kind.NON_FINITE_LOSS, evidence, null, Duration.ZERO), null);
                return;
            }
            case RESTORE_UNAVAILABLE -> {
                // not the checkpoint's fault yet: another node may read it; the rank moves there
                Long step = generations.restoreStepOf(e.runId(), e.generation());
                if (step != null && generations.restoresFromMemory(e.runId(), e.generation())) {
                    // no node of the generation could send a shard: the snapshot is gone, whichever node asks
                    memorySnapshots.markUnusable(e.runId(), step);
                    evidence.put("unavailableMemorySnapshotStep", step);
                } else if (step != null) {
                    evidence.put("unavailableCheckpointStep", step);
                    evidence.put("unreadableOnNodes", checkpoints.unavailableOn(e.runId(), step, e.nodeId()));
                }
                actions.open(Detection.of(e.runId(), e.generation(), IncidentKind.RESTORE_UNAVAILABLE,
                        IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.INFRASTRUCTURE_CRASH, where
                        + " could not read the checkpoint" + (step == null ? "" : " of step " + step) + " (exit "
                        + e.exitCode() + "): its rank moves to another node", e.nodeId(), e.rank(), lastStep,
                        evidence), null);
                return;
            }
            case RESTORE_FAILED -> {
                Optional<Long> corrupt = markRestoreCorrupt(e.runId(), e.generation());
                corrupt.ifPresent(step -> evidence.put("corruptCheckpointStep", step));
                if (corrupt.isPresent() && runs.findById(e.runId()).map(Run::getState).orElse(null) == RunState.RECOVERING) {
                    return; // a peer's exit opened the restart already; it restores an older checkpoint when placed
                }
            }
            default -> { }
        }
        boolean userCode = meaning.chargesRestartBudget();
        actions.open(Detection.of(e.runId(), e.generation(), IncidentKind.TRAINER_CRASH,
                userCode ? IncidentCause.USER_CODE : IncidentCause.INFRASTRUCTURE,
                userCode ? RemediationLadder.Incident.USER_CODE_CRASH : RemediationLadder.Incident.INFRASTRUCTURE_CRASH,
                where + " exited " + e.exitCode() + " (" + (userCode ? "user code" : "infrastructure") + ")",
                e.nodeId(), e.rank(), lastStep, evidence), null);
    }

    /**
     * A "peer lost" exit whose peer check names the rank cut off from its peers: that rank's node leaves the run
     * (it joins the restart when another exit of the generation came first). False when the check names nobody.
     */
    private boolean peerUnreachable(NodeDirectives.TrainerExited e, String where, Map<String, Object> evidence) {
        Optional<PeerCheck> check = PeerCheck.find(e.logTail());
        if (check.isEmpty() || check.get().rank() != e.rank() || check.get().cutOffRank().isEmpty()) {
            return false;
        }
        int cutOff = check.get().cutOffRank().getAsInt();
        Optional<Placements.Row> seat = placements.seatOf(e.runId(), e.generation(), cutOff);
        if (seat.isEmpty()) {
            return false;
        }
        String name = nodes.view(seat.get().nodeId()).name();
        Map<String, Object> peerCheck = new LinkedHashMap<>();
        peerCheck.put("reporterRank", e.rank());
        peerCheck.put("reporterNode", nodes.view(e.nodeId()).name());
        peerCheck.put("unreachableRanks", check.get().unreachable());
        peerCheck.put("reachableRanks", check.get().reachable());
        evidence.put("peerCheck", peerCheck);
        evidence.put("cutOffRank", cutOff);
        evidence.put("cutOffNode", name);
        String how = cutOff == e.rank() ? "it reached neither ring neighbour over the data network"
                : where + " could not reach it over the data network, but reached its other neighbour";
        actions.open(Detection.of(e.runId(), e.generation(), IncidentKind.PEER_UNREACHABLE,
                IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.PARTITION, "node " + name + " (rank "
                + cutOff + ") cut off from its peers: " + how + " (exit " + e.exitCode() + ", peer lost)",
                seat.get().nodeId(), cutOff, telemetry.lastStepOf(e.runId(), e.generation(), cutOff), evidence), null);
        return true;
    }

    /** Exit 3 right after a restore: the checkpoint that generation restored is corrupt. */
    private Optional<Long> markRestoreCorrupt(java.util.UUID runId, long generation) {
        Long step = generations.restoreStepOf(runId, generation);
        if (step != null && generations.restoresFromMemory(runId, generation)) {
            return memorySnapshots.markUnusable(runId, step) ? Optional.of(step) : Optional.empty();
        }
        return step != null && checkpoints.markCorrupt(runId, step) ? Optional.of(step) : Optional.empty();
    }
}
