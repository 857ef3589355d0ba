package dev.steadyrun.orchestrator.scheduling;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.alert.AlertEventType;
import dev.steadyrun.orchestrator.alert.AlertOutbox;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker;
import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.MemorySnapshots;
import dev.steadyrun.orchestrator.checkpoint.RestoreRule;
import dev.steadyrun.orchestrator.node.LeaseRecord;
import dev.steadyrun.orchestrator.node.LeaseTable;
import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeState;
import dev.steadyrun.orchestrator.node.NodeView;
import dev.steadyrun.orchestrator.program.Programs;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunSpec;
import dev.steadyrun.orchestrator.run.RunSpecs;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunStateMachine;

/**
 * Carries out restart requests: every recovering run whose old generation stopped and whose backoff passed gets its
 * next generation, keeping the healthy nodes and giving each node the request names (lost, failed, swapped,
 * straggling) or that is no longer healthy (one whose GPU reported a degraded fault is cordoned as well) to one of
 * the run's spares or a free healthy node matching its selector
 * (none: the run waits, and the request says why). Called by the scheduling pass inside its transaction: the pass and
 * this never race. What it did is published for the logbook ({@link Placed}, {@link Waiting}, {@link RestoreReplaced}).
 */
@Component
public class RestartPlacer {

    private static final Logger log = LoggerFactory.getLogger(RestartPlacer.class);
    static final String ACTOR = "system:recovery";

    /** The request of {@code incidentId} placed {@code generation}; {@code swappedIn} is its first new node, or null. */
    public record Placed(UUID runId, long incidentId, long generation, UUID swappedIn, String swappedInName) {
    }

    /** The restart of {@code incidentId} waits (a new reason each time it changes). */
    public record Waiting(long incidentId, String why) {
    }

    /** The checkpoint the decision of {@code incidentId} named proved unusable: {@code restore} instead (null: none). */
    public record RestoreReplaced(long incidentId, Checkpoints.RestorePoint restore, List<CheckpointPicker.Skip> skipped) {
    }

    /**
     * The restart of {@code incidentId} has no checkpoint left that its rule allows, though the run has checkpoints:
     * it is not placed (a restart from scratch would throw the run away); recovery calls a human.
     */
    public record NoRestorePoint(UUID runId, long incidentId) {
    }

    private final RunRepository runs;
    private final RunStateMachine stateMachine;
    private final Placements placements;
    private final Generations generations;
    private final RestartRequests requests;
    private final Checkpoints checkpoints;
    private final NodeRegistry nodes;
    private final LeaseTable leases;
    private final AlertOutbox alerts;
    private final ApplicationEventPublisher events;
    private final RunSpecs specs;
    private final Programs programs;
    private final MemorySnapshots memorySnapshots;
    private final Timer placedTimer;
    private final Timer waitingTimer;

    RestartPlacer(RunRepository runs, RunStateMachine stateMachine, Placements placements, Generations generations,
                  RestartRequests requests, Checkpoints checkpoints, NodeRegistry nodes, LeaseTable leases,
                  AlertOutbox alerts, ApplicationEventPublisher events, RunSpecs specs, Programs programs,
                  MemorySnapshots memorySnapshots, MeterRegistry registry) {
        this.memorySnapshots = memorySnapshots;
        this.placedTimer = placementTimer(registry, "placed");
        this.waitingTimer = placementTimer(registry, "waiting");
        this.runs = runs;
        this.stateMachine = stateMachine;
        this.placements = placements;
        this.generations = generations;
        this.requests = requests;
        this.checkpoints = checkpoints;
        this.nodes = nodes;
        this.leases = leases;
        this.alerts = alerts;
        this.events = events;
        this.specs = specs;
        this.programs = programs;
    }

    @Transactional(propagation = Propagation.MANDATORY)
    void placeDue(Instant now) {
        for (Run seen : runs.findInStateOldestFirst(RunState.RECOVERING)) {
            Run run = runs.findForUpdate(seen.getId()).orElseThrow();
            if (run.getState() == RunState.RECOVERING) {
                requests.pending(run.getId()).ifPresent(pending -> {
                    long started = System.nanoTime();
                    boolean placed = place(run, pending, now);
                    (placed ? placedTimer : waitingTimer).record(System.nanoTime() - started,
                            TimeUnit.NANOSECONDS);
                });
            }
        }
    }

    private static Timer placementTimer(MeterRegistry registry, String outcome) {
        return Timer.builder("steadyrun.restart.placement")
                .description("One restart request considered by the scheduling pass: placed (a new generation) or"
                        + " waiting (old ranks, backoff, nodes)")
                .tag("outcome", outcome).publishPercentileHistogram().register(registry);
    }

    /** Returns whether it placed the request's generation. */
    private boolean place(Run run, RestartRequests.Pending pending, Instant now) {
        RestartRequests.Request request = pending.request();
        releaseGone(run.getId(), now);
        List<Placements.Row> active = placements.active(run.getId());
        if (active.stream().anyMatch(r -> r.rank() != null)
                || request.notBefore() != null && now.isBefore(request.notBefore())) {
            return false; // an old rank still runs: all-or-nothing
        }
        List<Placements.Row> old = placements.ranksOf(run.getId(), run.getGeneration());
        if (old.stream().anyMatch(r -> unjudged(r.nodeId(), now))) {
            return false; // a silent node the lease sweep has yet to call lost: its incident joins this restart first
        }
        RunSpec spec = specs.of(run);
        Set<UUID> busy = placements.activeNodeIds();
        Deque<UUID> spares = new ArrayDeque<>(active.stream().filter(r -> r.rank() == null)
                .map(Placements.Row::nodeId).filter(n -> nodes.state(n) == NodeState.SPARE).toList());
        Set<UUID> oldNodes = new HashSet<>();
        old.forEach(r -> oldNodes.add(r.nodeId()));
        Set<UUID> held = placements.heldForRecoveryOfOthers(run.getId());
        Predicate<UUID> installed = programs.installedOn(spec.program());
        Deque<UUID> free = new ArrayDeque<>(nodes.availableNodes().stream()
                .filter(n -> spec.fits(n.labels(), n.gpuCount()) && installed.test(n.id()) && !busy.contains(n.id()) && !oldNodes.contains(n.id())
                        && !held.contains(n.id()))
                .map(NodeView::id).toList());
        List<UUID> seats = new ArrayList<>();
        List<UUID> degraded = new ArrayList<>();
        List<UUID> usedSpares = new ArrayList<>();
        List<UUID> swappedIn = new ArrayList<>();
        // by node seat: a node's ranks stay together, and a lost node's ranks all move to one spare node
        int perNode = spec.ranksPerNode();
        int missing = 0; // seats no node can take: every one is counted, so the waiting reason says how many
        for (int seat = 0; seat < spec.nodes(); seat++) {
            final int first = seat * perNode;
            UUID node = old.stream().filter(p -> p.holds(first)).map(Placements.Row::nodeId).findFirst().orElse(null);
            if (node != null && nodes.state(node) == NodeState.HEALTHY && !request.replaceNodes().contains(node)
                    && !busy.contains(node)) {
                seats.add(node);
                continue;
            }
            if (node != null && degradedGpu(node, now)) {
                degraded.add(node);
            }
            UUID sub = spares.poll();
            if (sub != null) {
                usedSpares.add(sub);
            } else {
                sub = free.poll();
            }
            if (sub == null) {
                missing++;
                continue;
            }
            seats.add(sub);
            swappedIn.add(sub);
        }
        if (missing > 0) {
            String why = "waiting for a spare: no spare of the run and no free healthy node"
                    + (spec.nodeSelector().isEmpty() ? "" : " matching " + spec.nodeSelector())
                    + (spec.gpusPerNode() == 0 ? "" : " with " + spec.gpusPerNode() + " GPUs")
                    + " for " + missing + " node(s) of " + perNode + " rank(s)";
            if (requests.waiting(pending.id(), why)) {
                events.publishEvent(new Waiting(request.incidentId(), why));
                stateMachine.note(run, RunStateMachine.WAITING_FOR_NODES + why, ACTOR); // the run's history dates it
            }
            return false;
        }
        placements.releaseSpares(run.getId(), now);
        List<UUID> keptSpares = new ArrayList<>(spares);
        Checkpoints.RestorePoint restore = restorable(run, pending);
        String fromMemory = null;
        if (request.rule() != null && request.rule().mode() == RestoreRule.Mode.LATEST_USABLE) {
            CheckpointPicker.MemoryPick memory = memorySnapshots.surviving(run.getId(), Set.copyOf(seats),
                    restore == null ? null : restore.step());
            memory.skipped().forEach(skip -> log.info("Run {}: memory snapshot step {} passed over: {}", run.getId(),
                    skip.step(), skip.reason()));
            if (memory.chosen().isPresent()) {
                CheckpointPicker.MemoryChoice m = memory.chosen().get();
                restore = Checkpoints.RestorePoint.memory(m.step());
                Map<Integer, String> holders = new java.util.TreeMap<>();
                m.shardHolders().forEach((rank, node) -> holders.put(rank, nodes.view(node).name()));
                fromMemory = "memory snapshot step " + m.step() + " (shard of rank → node holding it: " + holders + ")";
            }
        }
        if (restore == null && pending.request().restore() != null) {
            events.publishEvent(new NoRestorePoint(run.getId(), pending.request().incidentId()));
            return false;
        }
        long generation = generations.start(run, seats, keptSpares, restore, request.knobs(), request.incidentId(), now);
        requests.placed(pending.id(), generation, now);
        UUID first = swappedIn.isEmpty() ? null : swappedIn.get(0);
        String firstName = first == null ? null : nodes.view(first).name();
        events.publishEvent(new Placed(run.getId(), request.incidentId(), generation, first, firstName));
        stateMachine.transition(run, RunState.STARTING, "incident #" + request.incidentId() + ": restart at generation "
                + generation + (restore == null ? " from scratch" : fromMemory != null ? " from " + fromMemory
                : " from step " + restore.step())
                + (swappedIn.isEmpty() ? "" : "; swapped in " + swappedIn.stream()
                .map(n -> nodes.view(n).name()).toList()), ACTOR);
        if (first != null) {
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("runId", run.getId().toString());
            data.put("incidentId", request.incidentId());
            data.put("generation", generation);
            data.put("nodeId", first.toString());
            data.put("summary", "node " + firstName + " took a rank of run " + run.getId() + " at generation "
                    + generation);
            alerts.publish(AlertEventType.NODE_SWAPPED, run.getId().toString(), data);
        }
        // Last: the node registry flushes and clears the persistence context, detaching the run.
        usedSpares.forEach(n -> nodes.releaseSpare(n, ACTOR));
        // a GPU that reported a degraded fault kept its node working until now; it must not take work again
        degraded.forEach(n -> nodes.cordon(n, "degraded GPU (" + nodes.view(n).stateReason()
                + "): cordoned at the restart of run " + run.getId() + " to generation " + generation, ACTOR));
        return true;
    }

    /** SUSPECT while still heartbeating: a GPU reported a degraded (not fatal) fault (silence is the other SUSPECT). */
    private boolean degradedGpu(UUID nodeId, Instant now) {
        LeaseRecord lease = leases.get(nodeId);
        return nodes.state(nodeId) == NodeState.SUSPECT && lease != null && !lease.leaseExpired(now);
    }

    /**
     * The request's checkpoint, unless it proved unusable after the decision (rank 0's failed restore may arrive after
     * a peer's exit opened the incident, or retention deleted it): then the newest older one that the request's own
     * rule allows, recorded on the request and in the logbook.
     */
    private Checkpoints.RestorePoint restorable(Run run, RestartRequests.Pending pending) {
        Checkpoints.RestorePoint first = pending.request().restore();
        String unusable = first == null ? null : checkpoints.unusable(run.getId(), first.step());
        if (unusable == null) {
            return first;
        }
        RecoveryPolicy policy = specs.policyOf(run);
        Checkpoints.Choice choice = checkpoints.pick(run.getId(), pending.request().rule(), policy, first.step());
        List<CheckpointPicker.Skip> skipped = new ArrayList<>();
        skipped.add(new CheckpointPicker.Skip(first.step(), unusable));
        skipped.addAll(choice.skipped());
        Checkpoints.RestorePoint next = choice.chosen().orElse(null);
        requests.restoreInstead(pending.id(), next);
        events.publishEvent(new RestoreReplaced(pending.request().incidentId(), next, skipped));
        return next;
    }

    /**
     * A run that ended while it held seats (recovery failed it): its spares and the ranks on nodes that are gone are
     * released now, since nobody will confirm their stop; returns the spare nodes freed.
     */
    public List<UUID> releaseSeatsOfEnded(UUID runId, Instant now) {
        List<UUID> spares = placements.releaseSpares(runId, now);
        releaseGone(runId, now);
        return spares;
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
}
