package dev.steadyrun.orchestrator.scheduling;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * What a node should be doing, answered on every heartbeat from memory: a snapshot of the active placements
 * (swapped whole by the scheduling pass after every change) and the fences set by refused reports. No query,
 * no lock: the heartbeat path must stay cheap at a thousand nodes a second.
 *
 * <p>Rules, in order: a trainer of a generation older than what the node should run, or of a fenced generation,
 * gets STOP (never a refusal: the heartbeat still renewed the lease). A node of a run that is not live (pausing,
 * cancelling, ended) gets STOP while its trainer lives and IDLE after, which also confirms the stop to the
 * scheduling pass. A rank of a live run gets RUN with its assignment, unless its trainer exited 0 at that
 * generation (its part is done: IDLE, which confirms it too) or exited non-zero (IDLE, and {@link TrainerExited}
 * tells recovery); anything else gets IDLE, or STOP while a trainer still runs.
 */
@Component
public class NodeDirectives {

    /** A refused report's generation: a trainer of this run at this generation or older must stop. */
    record Fence(UUID runId, long generation) {
    }

    /**
     * A node whose trainer stopped for a run that is not live, or finished its run (exit 0) for a live one: its
     * placement may be released.
     */
    record StopConfirmed(UUID nodeId, UUID runId, long generation, boolean finished) {
    }

    /**
     * A trainer of a live run's current generation exited with a non-zero code: recovery opens an incident (a
     * crash, a hang when the agent's watchdog attached a thread dump). Published on the heartbeat thread.
     */
    public record TrainerExited(UUID nodeId, UUID runId, int rank, long generation, int exitCode, long lastStep,
                                List<String> logTail, String threadDump) {
    }

    private final ApplicationEventPublisher events;
    private volatile Map<UUID, NodeWork> work = Map.of();
    private final Map<UUID, Fence> fences = new ConcurrentHashMap<>();
    private final Set<StopConfirmed> stopsConfirmed = ConcurrentHashMap.newKeySet();
    /** The exit each node's heartbeats last announced: an exit is announced once, not with every heartbeat. */
    private final Map<UUID, ExitSeen> exitsAnnounced = new ConcurrentHashMap<>();

    private record ExitSeen(UUID runId, long generation, int exitCode, boolean dumped) {
    }

    /** @param events hears of each newly confirmed stop, so that the pass settles it without waiting */
    public NodeDirectives(ApplicationEventPublisher events) {
        this.events = events;
    }

    public HeartbeatResponse directivesFor(UUID nodeId, TrainerStatus trainer, LeaseTimings timings) {
        boolean trainerLives = trainer != null
                && (trainer.state() == TrainerState.STARTING || trainer.state() == TrainerState.RUNNING);
        NodeWork w = work.get(nodeId);
        if (trainerLives && fenced(nodeId, trainer)) {
            return new HeartbeatResponse(DesiredState.STOP, null, timings);
        }
        if (w == null || w.spare() || !RunState.LIVE.contains(w.runState())) {
            // After the run already stopped, two exits still matter: a watchdog's thread dump (evidence) and a failed
            // restore (a peer's "peer lost" may have reached us first; the next generation must not restore it again).
            if (w != null && !w.spare() && crashed(trainer, w) && (trainer.threadDump() != null
                    || failedRestore(trainer.exitCode()))) {
                exited(nodeId, trainer, w);
            }
            if (trainerLives) {
                // a restart chose its checkpoint: the trainer must not delete it in its last steps
                CheckpointPin keep = w != null && w.keepStep() != null ? new CheckpointPin(w.runId(), w.keepStep())
                        : null;
                return new HeartbeatResponse(DesiredState.STOP, null, timings, keep);
            }
            if (w != null && !w.spare()) {
                confirm(new StopConfirmed(nodeId, w.runId(), w.generation(), false));
            }
            return new HeartbeatResponse(DesiredState.IDLE, null, timings);
        }
        if (finishedItsPart(trainer, w)) { // do not relaunch a trainer that completed the run
            confirm(new StopConfirmed(nodeId, w.runId(), w.generation(), true));
            return new HeartbeatResponse(DesiredState.IDLE, null, timings);
        }
        if (crashed(trainer, w)) { // no relaunch at the same generation: recovery restarts the whole run
            exited(nodeId, trainer, w);
            return new HeartbeatResponse(DesiredState.IDLE, null, timings);
        }
        if (trainerLives && (!w.runId().equals(trainer.runId()) || trainer.generation() < w.generation())) {
            return new HeartbeatResponse(DesiredState.STOP, null, timings);
        }
        return new HeartbeatResponse(DesiredState.RUN, w.assignment(), timings);
    }

    private static boolean failedRestore(int exitCode) {
        ExitCodes.Meaning meaning = ExitCodes.meaningOf(exitCode);
        return meaning == ExitCodes.Meaning.RESTORE_FAILED || meaning == ExitCodes.Meaning.RESTORE_UNAVAILABLE;
    }

    private static boolean finishedItsPart(TrainerStatus trainer, NodeWork w) {
        return trainer != null && trainer.state() == TrainerState.EXITED
                && Integer.valueOf(ExitCodes.OK).equals(trainer.exitCode())
                && w.runId().equals(trainer.runId()) && trainer.generation() == w.generation();
    }

    private static boolean crashed(TrainerStatus trainer, NodeWork w) {
        return trainer != null && trainer.state() == TrainerState.EXITED && trainer.exitCode() != null
                && trainer.exitCode() != ExitCodes.OK
                && w.runId().equals(trainer.runId()) && trainer.generation() == w.generation();
    }

    /** Every heartbeat repeats an exited trainer's status until the next launch; recovery hears of it once. */
    private void exited(UUID nodeId, TrainerStatus trainer, NodeWork w) {
        ExitSeen exited = new ExitSeen(w.runId(), w.generation(), trainer.exitCode(), trainer.threadDump() != null);
        ExitSeen before = exitsAnnounced.put(nodeId, exited);
        if (!exited.equals(before)) {
            try {
                events.publishEvent(new TrainerExited(nodeId, w.runId(), trainer.rank(), w.generation(),
                        trainer.exitCode(), trainer.lastStep(), trainer.logTail() == null ? List.of() : trainer.logTail(),
                        trainer.threadDump()));
            } catch (RuntimeException e) {
                // not heard (a database error in recovery, say): the next heartbeat announces it again
                exitsAnnounced.remove(nodeId, exited);
                throw e;
            }
        }
    }

    private void confirm(StopConfirmed stop) {
        if (stopsConfirmed.add(stop)) {
            events.publishEvent(stop);
        }
    }

    private boolean fenced(UUID nodeId, TrainerStatus trainer) {
        Fence fence = fences.get(nodeId);
        if (fence == null) {
            return false;
        }
        if (fence.runId().equals(trainer.runId()) && trainer.generation() <= fence.generation()) {
            return true;
        }
        fences.remove(nodeId, fence); // the node moved on to another trainer
        return false;
    }

    /** After a report of {@code generation} was refused: that node's trainer of that generation must stop. */
    public void fence(UUID nodeId, UUID runId, long generation) {
        fences.merge(nodeId, new Fence(runId, generation),
                (old, neu) -> old.runId().equals(neu.runId()) && old.generation() > neu.generation() ? old : neu);
    }

    void install(Map<UUID, NodeWork> snapshot) {
        this.work = Map.copyOf(snapshot);
    }

    /** Takes the stops confirmed since the last call. */
    Set<StopConfirmed> drainStopsConfirmed() {
        Set<StopConfirmed> taken = Set.copyOf(stopsConfirmed);
        stopsConfirmed.removeAll(taken);
        return taken;
    }
}
