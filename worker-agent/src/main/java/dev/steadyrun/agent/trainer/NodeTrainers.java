package dev.steadyrun.agent.trainer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.IntFunction;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * The trainers of one node: one {@link TrainerSupervisor} per local rank of the node's assignment (one per GPU, or
 * {@code ranksPerNode} CPU ranks splitting the node's cores), each running its global rank alone. The orchestrator
 * treats the node as one unit (OPT cycled whole hosts out), so the heartbeat carries one status for all of them:
 * a rank that failed speaks for the node, else the live ranks, else a node whose ranks all finished.
 */
public final class NodeTrainers implements TrainerDriver {

    /** The trainer-engine's thread count key; 0 there means ND4J's own choice (every core). */
    static final String THREADS = "threads";

    private final IntFunction<TrainerSupervisor> newSupervisor;
    private final int cores;
    private final List<TrainerSupervisor> supervisors = new ArrayList<>();
    /** How many local ranks the last RUN asked for: the status is theirs, not that of a supervisor left idle. */
    private int active;
    /** The node's last RUN assignment, for chaos to find a rank's GPU. */
    private Assignment lastAssignment;

    /**
     * @param newSupervisor makes the supervisor of a local rank (called once per local rank, when first needed)
     * @param cores         the node's CPU cores, split between its CPU ranks
     */
    public NodeTrainers(IntFunction<TrainerSupervisor> newSupervisor, int cores) {
        this.newSupervisor = newSupervisor;
        this.cores = Math.max(1, cores);
    }

    @Override
    public synchronized void apply(DesiredState desired, Assignment assignment) {
        if (desired != DesiredState.RUN || assignment == null) {
            if (supervisors.isEmpty() && desired == DesiredState.IDLE) {
                supervisors.add(newSupervisor.apply(0)); // local rank 0's keeps the node's hot spare, if any
            }
            supervisors.forEach(s -> s.apply(desired, null));
            return;
        }
        List<LocalRank> here = assignment.ranksHere();
        while (supervisors.size() < here.size()) {
            supervisors.add(newSupervisor.apply(supervisors.size()));
        }
        active = here.size();
        lastAssignment = assignment;
        for (int l = 0; l < supervisors.size(); l++) {
            if (l < here.size()) {
                supervisors.get(l).apply(DesiredState.RUN, forRank(assignment, here.get(l), here.size()));
            } else {
                supervisors.get(l).apply(DesiredState.IDLE, null);
            }
        }
    }

    /**
     * One local rank's assignment. Several CPU ranks split the node's cores (unless the run set its thread count):
     * each ND4J would otherwise take every core and the ranks would fight over them.
     */
    Assignment forRank(Assignment node, LocalRank local, int ranksHere) {
        Assignment one = node.forLocalRank(local);
        Map<String, String> config = node.trainerConfig() == null ? Map.of() : node.trainerConfig();
        if (ranksHere == 1 || local.cudaVisibleDevices() != null || !threadsUnset(config.get(THREADS))) {
            return one;
        }
        Map<String, String> split = new HashMap<>(config);
        split.put(THREADS, Integer.toString(Math.max(1, cores / ranksHere)));
        return one.withTrainerConfig(Map.copyOf(split));
    }

    /**
     * Whether the run left the thread count to the agent: absent, or ≤ 0 (the trainer-engine's "every core"). A
     * value that is no number is the program's own to judge (it is not the trainer-engine's key there): kept.
     */
    private static boolean threadsUnset(String threads) {
        try {
            return threads == null || Integer.parseInt(threads.strip()) <= 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    public synchronized void keep(CheckpointPin pin) {
        supervisors.forEach(s -> s.keep(pin)); // only the one running rank 0 acts
    }

    @Override
    public synchronized void fence(UUID runId, long generation) {
        supervisors.forEach(s -> s.fence(runId, generation));
    }

    @Override
    public synchronized TrainerStatus status() {
        return nodeStatus(supervisors.stream().limit(Math.max(1, active)).map(TrainerSupervisor::status).toList());
    }

    /** The statuses of the local ranks, by local rank. */
    public synchronized List<TrainerStatus> rankStatuses() {
        return supervisors.stream().map(TrainerSupervisor::status).toList();
    }

    /**
     * One status for the node's ranks: a failed rank (non-zero exit; the one with a thread dump first), else the live
     * ranks (the oldest generation among them, so that a stale one is stopped; STARTING until every rank stepped;
     * the slowest rank's step), else the newest exit, else idle.
     */
    static TrainerStatus nodeStatus(List<TrainerStatus> ranks) {
        Optional<TrainerStatus> failed = ranks.stream()
                .filter(s -> s.state() == TrainerState.EXITED && s.exitCode() != null && s.exitCode() != 0)
                .min(Comparator.comparing((TrainerStatus s) -> s.threadDump() == null).thenComparing(TrainerStatus::rank));
        if (failed.isPresent()) {
            return failed.get();
        }
        List<TrainerStatus> live = ranks.stream()
                .filter(s -> s.state() == TrainerState.STARTING || s.state() == TrainerState.RUNNING).toList();
        if (!live.isEmpty()) {
            long generation = live.stream().mapToLong(TrainerStatus::generation).min().orElseThrow();
            List<TrainerStatus> oldest = live.stream().filter(s -> s.generation() == generation).toList();
            TrainerStatus first = oldest.stream().min(Comparator.comparingInt(TrainerStatus::rank)).orElseThrow();
            boolean starting = oldest.stream().anyMatch(s -> s.state() == TrainerState.STARTING);
            long step = oldest.stream().mapToLong(TrainerStatus::lastStep).min().orElseThrow();
            return new TrainerStatus(starting ? TrainerState.STARTING : TrainerState.RUNNING, first.runId(),
                    first.rank(), generation, null, step, List.of(), null);
        }
        return ranks.stream().filter(s -> s.state() == TrainerState.EXITED)
                .max(Comparator.comparingLong(TrainerStatus::generation)
                        .thenComparing(Comparator.comparingInt(TrainerStatus::rank).reversed()))
                .orElse(TrainerStatus.idle());
    }

    /** The running trainers' own pids, by local rank (null where none runs), for tests and diagnostics. */
    public synchronized List<Long> trainerPids() {
        return supervisors.stream().map(TrainerSupervisor::trainerPid).toList();
    }

    @Override
    public void shutdown() {
        List<TrainerSupervisor> all;
        synchronized (this) {
            all = List.copyOf(supervisors);
        }
        // every rank gets its SIGTERM first, so that the grace periods run side by side, not one after another
        all.forEach(TrainerSupervisor::beginShutdown);
        all.forEach(TrainerSupervisor::shutdown);
    }

    /** Chaos (test tool): kills every trainer of the node at once, as the loss of its host would. */
    public synchronized void killNow() {
        supervisors.forEach(TrainerSupervisor::killNow);
    }

    /** Chaos (test tool): the fault goes to the trainer of its rank. */
    public synchronized void injectIntoTrainer(ChaosFault fault) {
        owner(fault.rank()).ifPresent(s -> s.injectIntoTrainer(fault));
    }

    /** Chaos (test tool): rank 0's trainer writes the checkpoints. */
    public synchronized void corruptCheckpoint(ChaosFault fault) {
        owner(0).ifPresent(s -> s.corruptCheckpoint(fault));
    }

    /** The GPU index the trainer of global rank {@code rank} sees alone, when this node runs it on one. */
    public synchronized Optional<Integer> gpuOf(int rank) {
        return lastAssignment == null ? Optional.empty() : lastAssignment.ranksHere().stream()
                .filter(l -> l.globalRank() == rank && l.cudaVisibleDevices() != null)
                .map(l -> Integer.parseInt(l.cudaVisibleDevices())).findFirst();
    }

    /** The supervisor whose trainer runs global rank {@code rank}; the first one when none does (it logs and ignores). */
    private Optional<TrainerSupervisor> owner(int rank) {
        return supervisors.stream().filter(s -> s.status().rank() == rank).findFirst()
                .or(() -> supervisors.stream().findFirst());
    }
}
