package dev.steadyrun.orchestrator.chaos;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.checkpoint.CheckpointResponse;
import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunStateMachine;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.orchestrator.web.UnprocessableException;
import dev.steadyrun.protocol.ChaosFault;

/**
 * TEST TOOL: turns a chaos request into a {@link ChaosFault} for the node that holds the rank, handed over in that
 * node's next heartbeat answer ({@link #takeFor}); the agent injects it through its own fault paths. Nothing here
 * changes the run, a node or a checkpoint: what follows is the orchestrator's ordinary detection and recovery.
 * Every request is written into the run's events (who, what, when).
 *
 * <p>Pending faults live in memory only: an orchestrator restart before the node's next heartbeat drops them,
 * which is fine for a drill (the event says what was asked).
 */
@Service
public class ChaosService {

    private static final Logger log = LoggerFactory.getLogger(ChaosService.class);
    /** Faults waiting for one node's heartbeat at most; more are refused (409) until it beats. */
    static final int MAX_PENDING_PER_NODE = 8;

    private final ChaosProperties properties;
    private final RunRepository runs;
    private final RunStateMachine stateMachine;
    private final Placements placements;
    private final NodeRegistry nodes;
    private final Checkpoints checkpoints;
    private final Clock clock;
    private final Map<UUID, List<ChaosFault>> pending = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    ChaosService(ChaosProperties properties, RunRepository runs, RunStateMachine stateMachine, Placements placements,
                 NodeRegistry nodes, Checkpoints checkpoints, Clock clock) {
        this.properties = properties;
        this.runs = runs;
        this.stateMachine = stateMachine;
        this.placements = placements;
        this.nodes = nodes;
        this.checkpoints = checkpoints;
        this.clock = clock;
        if (properties.enabled()) {
            log.warn("the chaos API is ENABLED (steadyrun.chaos.enabled): admins can break running runs on purpose");
        }
    }

    @Transactional
    ChaosDtos.ChaosResponse inject(UUID runId, ChaosFault.Kind kind, int rank, String actor) {
        if (!properties.enabled()) {
            throw new NotFoundException("the chaos API is off: start the orchestrator with "
                    + "steadyrun.chaos.enabled=true to break runs on purpose");
        }
        Run run = runs.findForUpdate(runId).orElseThrow(() -> RunService.notFound(runId));
        if (run.getState() != RunState.RUNNING) {
            throw new ConflictException("run " + runId + " is " + run.getState() + ": chaos acts on a RUNNING run only");
        }
        int target = kind == ChaosFault.Kind.CORRUPT_CHECKPOINT ? 0 : rank;
        long generation = run.getGeneration();
        Placements.Row seat = placements.seatOf(runId, generation, target)
                .orElseThrow(() -> new UnprocessableException("rank", "run " + runId + " has no rank " + target
                        + " in generation " + generation));
        String checkpoint = null;
        if (kind == ChaosFault.Kind.CORRUPT_CHECKPOINT) {
            CheckpointResponse newest = checkpoints.list(runId).stream()
                    .filter(c -> !c.corrupt() && !c.removed() && !c.abandoned()).findFirst()
                    .orElseThrow(() -> new ConflictException("run " + runId + " has reported no checkpoint yet"));
            checkpoint = Path.of(newest.path()).getFileName().toString();
            if (!checkpoint.matches(ChaosFault.CHECKPOINT_NAME)) {
                throw new ConflictException("checkpoint " + newest.step() + " has an unusual directory name");
            }
        }
        String nodeName = nodes.view(seat.nodeId()).name();
        ChaosFault fault = new ChaosFault(ids.incrementAndGet(), kind, runId, generation, target, checkpoint);
        Instant now = clock.instant();
        String what = "chaos #" + fault.id() + ": " + kind + " on rank " + target + " (node " + nodeName
                + ", generation " + generation + (checkpoint == null ? "" : ", checkpoint " + checkpoint) + ")";
        stateMachine.note(run, what, actor);
        pending.compute(seat.nodeId(), (node, queue) -> {
            List<ChaosFault> faults = queue == null ? new ArrayList<>() : queue;
            if (faults.size() >= MAX_PENDING_PER_NODE) {
                throw new ConflictException("node " + nodeName + " has " + faults.size()
                        + " chaos faults waiting for its next heartbeat already");
            }
            faults.add(fault);
            return faults;
        });
        log.warn("{} asked by {}", what, actor);
        return new ChaosDtos.ChaosResponse(fault.id(), kind, runId, generation, target, seat.nodeId(), nodeName,
                checkpoint, actor, now);
    }

    /** The faults waiting for this node, handed over once (the node's heartbeat answer carries them). */
    public List<ChaosFault> takeFor(UUID nodeId) {
        if (pending.isEmpty()) {
            return List.of();
        }
        List<ChaosFault> faults = pending.remove(nodeId); // atomic with compute(): nothing added after is lost
        return faults == null ? List.of() : List.copyOf(faults);
    }
}
