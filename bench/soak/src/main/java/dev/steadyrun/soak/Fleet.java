package dev.steadyrun.soak;

import java.net.http.HttpResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import dev.steadyrun.soak.TraceModel.Cause;

/**
 * TEST TOOL — a non-blocking simulated fleet: every node's agent (registration, heartbeats, reports, its trainer's
 * lifecycle) and the run's data-parallel gang, driven by one loop thread. HTTP calls are asynchronous and their
 * answers are handled back on the loop, so all state here is touched by one thread only and a thousand nodes cost
 * no thread each.
 *
 * <p>The simulated trainers honour their assignment exactly: the generation and rank, the world size (a gang steps
 * only when every rank of its generation runs), the restore step (read from the simulated checkpoint store: a
 * missing checkpoint exits 7, a corrupt one exits 3 on rank 0), the knobs (learning rate, clipping, scaler reset) and
 * the trainer configuration (LR schedule, loss scaler, checkpoint interval). Rank 0 writes checkpoints, keeps the
 * newest {@link #KEEP_CHECKPOINTS} plus the pinned ones and reports what it removed, as the real trainer does.
 */
final class Fleet {

    static final int KEEP_CHECKPOINTS = 8;
    private static final Pattern STEP_IN_PATH = Pattern.compile("step-0*(\\d+)$");

    /** What the fleet is and how fast its simulated time runs. */
    /**
     * @param onTraceClock inject each failure at its trace time, even while a recovery is open (it then joins that
     *                     recovery, as a failure during a restart does): the same failures at the same times under
     *                     any policy, and as many as the trace holds; otherwise one at a time, while the run trains
     *                     with no recovery open, so that each recovery is timed on its own
     */
    record Settings(int nodes, int gpusPerNode, int rackSize, double stepSeconds, double restoreSeconds,
                    double reportSeconds, double repairSeconds, double partitionSeconds, double stragglerSlowdown,
                    long seed, String joinToken, boolean onTraceClock) {
    }

    enum Health { UP, DOWN, PARTITIONED }

    /** One simulated node: its agent's state and its trainer, if any. */
    final class Node {
        final String name;
        final int rack;
        final List<GpuInfo> gpus = new ArrayList<>();
        UUID id;
        String credential = RegisterRequest.newCredential();
        long sequence;
        Health health = Health.UP;
        boolean heartbeatInFlight;
        double nextHeartbeat;
        double interval = 1;
        double lastHeartbeatOk = Double.NaN;
        Integer pendingXid;
        Trainer trainer;
        TrainerStatus exited;
        final Map<Assignment, Pending> reports = new LinkedHashMap<>();
        boolean reportInFlight;
        double nextReport;
        double repairAt = Double.NaN;
        /** a fault was injected since its last repair: the orchestrator may release its seat without its word */
        boolean faulted;
        double slowdown = 1;
        final Set<Long> pinned = new HashSet<>();

        Node(int index) {
            this.name = "soak-" + index;
            this.rack = index / settings.rackSize();
            for (int g = 0; g < settings.gpusPerNode(); g++) {
                gpus.add(new GpuInfo(g, "GPU-soak-" + index + "-" + g, "NVIDIA A100-SXM4-80GB", 81_920));
            }
        }

        boolean reachable() {
            return health == Health.UP && id != null;
        }
    }

    /** Lines of one trainer (one assignment) not yet accepted. */
    static final class Pending {
        final List<StepMetrics> steps = new ArrayList<>();
        final List<CheckpointWritten> checkpoints = new ArrayList<>();
    }

    /** A simulated trainer: its assignment and gang. */
    static final class Trainer {
        final Assignment assignment;
        final Gang gang;
        boolean hung;

        Trainer(Assignment assignment, Gang gang) {
            this.assignment = assignment;
            this.gang = gang;
        }
    }

    /** The ranks of one generation: they step together or not at all, as a ring all-reduce makes them. */
    final class Gang {
        final long generation;
        final Node[] ranks;
        final SyntheticOpt opt;
        final SyntheticOpt.LossScaler scaler;
        final Long restoreStep;
        final String checkpointDir;
        long step;
        double readyAt = Double.NaN;
        double nextStepAt;
        double lastStepAt;
        boolean stepped;
        boolean failedRestore;
        /** a divergence under way: the step its overflows began, or -1 */
        long collapseFrom = -1;
        long spikeSteps;

        Gang(Assignment a) {
            this.generation = a.generation();
            this.ranks = new Node[a.worldSize()];
            this.opt = new SyntheticOpt(a.trainerConfig(), a.knobs());
            this.restoreStep = stepOf(a.restoreFrom());
            this.checkpointDir = a.checkpointDir();
            this.step = restoreStep == null ? 0 : restoreStep;
            Stored restored = restoreStep == null ? null : store.get(restoreStep);
            double scale = restored == null || opt.resetsLossScaler() ? opt.lossScaleInit : restored.lossScale;
            this.scaler = new SyntheticOpt.LossScaler(opt, scale);
            this.lastStepAt = now();
        }

        boolean complete() {
            for (Node n : ranks) {
                if (n == null) {
                    return false;
                }
            }
            return true;
        }

        /** Every rank's trainer is this generation's, alive, on a node that can talk to its peers. */
        boolean canStep() {
            for (Node n : ranks) {
                if (n == null || n.trainer == null || n.trainer.gang != this || n.trainer.hung
                        || n.health != Health.UP) {
                    return false;
                }
            }
            return true;
        }

        double slowest() {
            double s = 1;
            for (Node n : ranks) {
                s = Math.max(s, n.slowdown);
            }
            return s;
        }
    }

    /** A checkpoint in the simulated shared storage. */
    static final class Stored {
        final long generation;
        final double lossScale;
        boolean corrupt;

        Stored(long generation, double lossScale) {
            this.generation = generation;
            this.lossScale = lossScale;
        }
    }

    /** One recovery being timed (soak seconds). */
    static final class Open {
        final Cause cause;
        final double failedAt;
        final long stepAtFailure;
        final long generation;
        int faults = 1;
        double stoppedAt = Double.NaN;
        double placedAt = Double.NaN;
        double humanSeconds;

        Open(Cause cause, double failedAt, long stepAtFailure, long generation) {
            this.cause = cause;
            this.failedAt = failedAt;
            this.stepAtFailure = stepAtFailure;
            this.generation = generation;
        }
    }

    /** A finished recovery, before its detection time is known (from the orchestrator's incidents, at the end). */
    record Recovery(Cause cause, int faults, long generation, double failedAt, double stoppedAt, double placedAt,
                    double allLaunchedAt, double firstStepAt, long lostSteps, double humanSeconds) {
    }

    final Settings settings;
    private final Api api;
    private final Invariants invariants;
    private final ScheduledExecutorService loop;
    private final SplittableRandom random;
    private final long t0 = System.nanoTime();
    final Node[] nodes;
    /** Nodes the orchestrator failed without the trace breaking them (readmitted by the operator, see readmitLater). */
    int spuriousFailures;
    private final TreeMap<Long, Gang> gangs = new TreeMap<>();
    private final TreeMap<Long, Stored> store = new TreeMap<>();
    final HeartbeatLatencies latencies = new HeartbeatLatencies();
    private final ArrayDeque<TraceModel.Event> trace = new ArrayDeque<>();
    private final Map<Cause, Integer> injected = new TreeMap<>();
    private final List<Recovery> recoveries = new ArrayList<>();
    private Open open;
    private boolean injecting = true;
    /** a divergence tied to the data: it comes back at this step unless a rollback's knobs change the optimisation */
    private long divergenceTrap = -1;
    private long unprovoked;
    private long reportsAccepted;
    private long reportsFenced;
    private long reportErrors;
    private long heartbeatErrors;
    private long stepsTaken;
    /** Every minute of the soak: steps taken and failures injected so far (goodput over time). */
    private final List<Progress> progress = new ArrayList<>();
    private double nextProgressAt = Double.NaN;
    private double lastStepAt;

    Fleet(Settings settings, Api api, Invariants invariants, ScheduledExecutorService loop) {
        this.settings = settings;
        this.api = api;
        this.invariants = invariants;
        this.loop = loop;
        this.random = new SplittableRandom(settings.seed());
        this.nodes = new Node[settings.nodes()];
        for (int i = 0; i < nodes.length; i++) {
            nodes[i] = new Node(i);
        }
    }

    double now() {
        return (System.nanoTime() - t0) / 1e9;
    }

    // ---- registration and the loop

    /** Registers every node, at most {@code inFlight} at once; completes when all are registered. */
    CompletableFuture<Void> registerAll(int inFlight) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        int[] next = {0};
        int[] finished = {0};
        Runnable[] pump = new Runnable[1];
        pump[0] = () -> {
            while (next[0] < nodes.length && next[0] - finished[0] < inFlight) {
                Node n = nodes[next[0]++];
                register(n, ok -> {
                    finished[0]++;
                    if (!ok) {
                        done.completeExceptionally(new IllegalStateException("registration of " + n.name + " failed"));
                    } else if (finished[0] == nodes.length) {
                        done.complete(null);
                    } else {
                        pump[0].run();
                    }
                });
            }
        };
        loop.execute(pump[0]);
        return done;
    }

    private void register(Node n, Consumer<Boolean> then) {
        RegisterRequest request = new RegisterRequest(n.name, n.name + ".soak.local", n.gpus,
                Map.of("rack", "soak-rack-" + n.rack, "simulated", "true"), "soak", n.credential);
        on(api.post("/api/v1/agents/register", settings.joinToken(), request), (r, e) -> {
            if (e != null || r.statusCode() != 200) {
                then.accept(false);
                return;
            }
            RegisterResponse answer = Api.JSON.readValue(r.body(), RegisterResponse.class);
            n.id = answer.nodeId();
            n.credential = answer.nodeCredential();
            n.interval = answer.timings().heartbeatInterval().toMillis() / 1000.0;
            n.nextHeartbeat = now() + random.nextDouble() * n.interval;
            then.accept(true);
        });
    }

    /** Starts the loop: heartbeats, reports, the gang's steps and repairs. */
    void start() {
        lastStepAt = now();
        loop.scheduleWithFixedDelay(this::tick, 0, 20, TimeUnit.MILLISECONDS);
    }

    /** The failures to inject, their times counted from now (call on the loop). */
    void beginTrace(List<TraceModel.Event> events) {
        double at = now();
        for (TraceModel.Event e : events) {
            trace.add(new TraceModel.Event(at + e.atSeconds(), e.cause(), e.pick()));
        }
    }

    void stopInjecting() {
        loop.execute(() -> injecting = false);
    }

    /** The counters at {@code at} soak seconds. */
    record Progress(double at, long steps, int failures) {
    }

    private void tick() {
        try {
            double t = now();
            if (!(t < nextProgressAt)) {
                progress.add(new Progress(t, stepsTaken, injected.values().stream().mapToInt(Integer::intValue).sum()));
                nextProgressAt = t + 60;
            }
            injectDue(t);
            for (Node n : nodes) {
                if (!Double.isNaN(n.repairAt) && t >= n.repairAt) {
                    repair(n);
                }
                if (n.reachable() && !n.heartbeatInFlight && t >= n.nextHeartbeat) {
                    heartbeat(n);
                }
                if (n.reachable() && !n.reportInFlight && t >= n.nextReport && !n.reports.isEmpty()) {
                    report(n);
                }
                if (n.trainer != null && n.trainer.hung) {
                    watchdog(n, t);
                }
            }
            Map.Entry<Long, Gang> newest = gangs.lastEntry();
            if (newest != null) {
                advance(newest.getValue(), t);
            }
        } catch (RuntimeException e) {
            e.printStackTrace();
        }
    }

    // ---- heartbeats and directives

    private void heartbeat(Node n) {
        n.heartbeatInFlight = true;
        List<GpuHealth> health = new ArrayList<>(n.gpus.size());
        for (GpuInfo g : n.gpus) {
            List<Integer> xids = g.index() == 0 && n.pendingXid != null ? List.of(n.pendingXid) : List.of();
            health.add(new GpuHealth(g.index(), 61.5, 70_000, 81_920, 97, 0, 0, 0, xids, 0));
        }
        n.pendingXid = null;
        HeartbeatRequest request = new HeartbeatRequest(++n.sequence, health, status(n));
        long sent = System.nanoTime();
        // the answer's arrival is stamped on the HTTP thread: the loop thread may be busy with a new generation of
        // 992 ranks when it comes, and that wait is this harness's, not the round trip a real agent sees
        long[] arrived = new long[1];
        on(api.post("/api/v1/agents/" + n.id + "/heartbeat", n.credential, request)
                .whenComplete((r, e) -> arrived[0] = System.nanoTime()), (r, e) -> {
            n.heartbeatInFlight = false;
            double t = now();
            n.nextHeartbeat = t + n.interval * (0.9 + 0.2 * random.nextDouble());
            if (e != null || r.statusCode() != 200) {
                heartbeatErrors++;
                return;
            }
            latencies.record(t, (arrived[0] - sent) / 1000);
            if (n.health != Health.UP) {
                return; // it went down while the answer travelled: a dead agent hears nothing
            }
            HeartbeatResponse answer = Api.JSON.readValue(r.body(), HeartbeatResponse.class);
            n.lastHeartbeatOk = t;
            n.interval = answer.timings().heartbeatInterval().toMillis() / 1000.0;
            if (answer.keep() != null) {
                n.pinned.add(answer.keep().step());
            }
            apply(n, answer.desired(), answer.assignment());
        });
    }

    private TrainerStatus status(Node n) {
        if (n.trainer != null) {
            Assignment a = n.trainer.assignment;
            Gang g = n.trainer.gang;
            return new TrainerStatus(g.stepped ? TrainerState.RUNNING : TrainerState.STARTING, a.runId(), a.rank(),
                    a.generation(), null, g.step, List.of(), null);
        }
        return n.exited != null ? n.exited : TrainerStatus.idle();
    }

    /** The agent's rules: one generation at a time, never the same one twice, stopped on STOP/IDLE or a newer one. */
    private void apply(Node n, DesiredState desired, Assignment a) {
        if (desired != DesiredState.RUN || a == null) {
            exit(n, ExitCodes.TERMINATED, null);
            return;
        }
        if (n.trainer != null && same(n.trainer.assignment, a)) {
            return;
        }
        if (n.trainer == null && n.exited != null && a.runId().equals(n.exited.runId())
                && a.rank() == n.exited.rank() && a.generation() == n.exited.generation()) {
            return;
        }
        exit(n, ExitCodes.TERMINATED, null);
        launch(n, a);
    }

    private static boolean same(Assignment x, Assignment y) {
        return x.runId().equals(y.runId()) && x.rank() == y.rank() && x.generation() == y.generation();
    }

    private void launch(Node n, Assignment a) {
        double t = now();
        Set<String> olderAlive = new TreeSet<>();
        for (Node other : nodes) {
            if (other != n && other.trainer != null && other.trainer.assignment.runId().equals(a.runId())
                    && other.trainer.assignment.generation() < a.generation() && other.health == Health.UP
                    && !other.faulted && t - other.lastHeartbeatOk < 2 * other.interval) {
                olderAlive.add(other.name + "@" + other.trainer.assignment.generation());
            }
        }
        Long restore = stepOf(a.restoreFrom());
        invariants.launched(t, a.generation(), a.rank(), restore, olderAlive);
        Gang g = gangs.computeIfAbsent(a.generation(), gen -> newGang(a));
        if (a.rank() < 0 || a.rank() >= g.ranks.length) {
            throw new IllegalStateException("rank " + a.rank() + " outside world size " + g.ranks.length);
        }
        g.ranks[a.rank()] = n;
        n.trainer = new Trainer(a, g);
        n.exited = null;
        if (open == null && gangs.size() > 1 && isNewest(g) && firstLaunch(g)) {
            unprovoked++; // a new generation no injected failure asked for (a node the orchestrator judged lost)
        }
        if (open != null && a.generation() > open.generation && Double.isNaN(open.placedAt)) {
            open.placedAt = t;
            if (Double.isNaN(open.stoppedAt)) {
                open.stoppedAt = t;
            }
        }
        if (g.complete() && Double.isNaN(g.readyAt)) {
            // every rank is up: the restore (reading and checking the shards) and the first step's set-up
            g.readyAt = t + settings.restoreSeconds();
            g.nextStepAt = g.readyAt + settings.stepSeconds();
        }
    }

    private boolean isNewest(Gang g) {
        return gangs.lastEntry().getValue() == g;
    }

    private static boolean firstLaunch(Gang g) {
        int launched = 0;
        for (Node r : g.ranks) {
            launched += r == null ? 0 : 1;
        }
        return launched == 1;
    }

    private Gang newGang(Assignment a) {
        Gang g = new Gang(a);
        if (divergenceTrap >= 0 && g.step < divergenceTrap && (g.opt.changesOptimisation() || random.nextBoolean())) {
            // a lower LR, clipping or skipped batches get past the bad data; a scaler reset alone only sometimes
            divergenceTrap = -1;
        }
        return g;
    }

    /** The trainer ends with {@code code}; the agent reports it in its next heartbeat. */
    private void exit(Node n, int code, String threadDump) {
        Trainer tr = n.trainer;
        if (tr == null) {
            return;
        }
        Assignment a = tr.assignment;
        n.exited = new TrainerStatus(TrainerState.EXITED, a.runId(), a.rank(), a.generation(), code, tr.gang.step,
                List.of("simulated trainer exited with " + code), threadDump);
        n.trainer = null;
        if (n.slowdown > 1 && Double.isNaN(n.repairAt)) {
            n.repairAt = now() + settings.repairSeconds(); // a straggler is looked at once it is out of the run
        }
        noteStopped();
    }

    /** The recovery's stop phase ends when no reachable node still runs the failed generation or an older one. */
    private void noteStopped() {
        if (open == null || !Double.isNaN(open.stoppedAt)) {
            return;
        }
        for (Node n : nodes) {
            if (n.trainer != null && n.health == Health.UP && n.trainer.assignment.generation() <= open.generation) {
                return;
            }
        }
        open.stoppedAt = now();
    }

    private void watchdog(Node n, double t) {
        long limit = n.trainer.assignment.hangTimeoutSeconds();
        if (limit > 0 && t - n.trainer.gang.lastStepAt >= limit) {
            exit(n, ExitCodes.KILLED, "simulated trainer: no step for " + limit
                    + " s; the soak's trainers have no threads to dump");
        }
    }

    // ---- the gang's steps, checkpoints and reports

    private void advance(Gang g, double t) {
        if (Double.isNaN(g.readyAt) || t < g.readyAt || g.failedRestore) {
            return;
        }
        if (g.restoreStep != null && !g.stepped) {
            Stored s = store.get(g.restoreStep);
            if (s == null || s.corrupt) {
                // rank 0 checks the shards first: a missing checkpoint is exit 7, a bad checksum exit 3
                g.failedRestore = true;
                Node rank0 = g.ranks[0];
                if (rank0.trainer != null && rank0.trainer.gang == g) {
                    exit(rank0, s == null ? ExitCodes.CHECKPOINT_UNAVAILABLE : ExitCodes.CORRUPT_CHECKPOINT, null);
                    if (s != null) {
                        invariants.checkpointRefusedCorrupt(g.restoreStep);
                    }
                }
                return;
            }
        }
        if (t < g.nextStepAt || !g.canStep()) {
            if (!g.canStep()) {
                g.nextStepAt = Math.max(g.nextStepAt, t); // a stalled ring does not catch up in a burst
            }
            return;
        }
        step(g, t);
        g.nextStepAt = Math.max(g.nextStepAt + settings.stepSeconds() * g.slowest(), t);
    }

    private void step(Gang g, double t) {
        g.step++;
        long step = g.step;
        if (divergenceTrap == step && g.collapseFrom < 0) {
            g.collapseFrom = step; // the same data: the divergence comes back
            if (open == null) {
                open = new Open(Cause.DIVERGENCE, t, step - 1, g.generation);
                injected.merge(Cause.DIVERGENCE, 1, Integer::sum);
            }
        }
        boolean collapsing = g.collapseFrom >= 0;
        boolean overflow = collapsing || random.nextDouble() < 0.002;
        double scale = g.scaler.step(overflow);
        if (collapsing && scale < 1) {
            g.spikeSteps++;
        }
        double base = SyntheticOpt.loss(step, random.nextGaussian());
        double loss = base * (1 + 0.4 * g.spikeSteps);
        double lr = g.opt.lr(step);
        long tokens = step * g.opt.batchTokens;
        int world = g.ranks.length;
        for (int rank = 0; rank < world; rank++) {
            Node n = g.ranks[rank];
            double stepMs = settings.stepSeconds() * 1000 * n.slowdown * (1 + 0.02 * random.nextGaussian());
            double gradNorm = overflow ? 65_504 : Math.min(g.opt.clipNorm, 0.25 * (1 + 0.1 * random.nextGaussian()));
            StepMetrics m = new StepMetrics(step, tokens, loss * (1 + 0.002 * random.nextGaussian()), gradNorm,
                    scale, overflow, lr, g.opt.batchTokens / (double) world / (stepMs / 1000), stepMs,
                    60L << 30, List.of(), g.opt.clipNorm);
            pending(n).steps.add(m);
        }
        if (step % g.opt.checkpointInterval == 0) {
            checkpoint(g, step, tokens, loss);
        }
        if (!g.stepped) {
            g.stepped = true;
            invariants.stepped(g.generation);
            if (open != null && g.generation > open.generation) {
                closeRecovery(g, t);
            }
        }
        g.lastStepAt = t;
        lastStepAt = t;
        stepsTaken++;
        if (step >= g.opt.maxSteps) {
            for (Node n : g.ranks) {
                exit(n, ExitCodes.OK, null);
            }
        }
    }

    private void checkpoint(Gang g, long step, long tokens, double loss) {
        Node rank0 = g.ranks[0];
        store.put(step, new Stored(g.generation, g.scaler.scale));
        invariants.checkpointWritten(step, g.generation, g.scaler.scale);
        List<Long> removed = new ArrayList<>();
        List<Long> older = new ArrayList<>(store.headMap(step, false).descendingKeySet());
        for (int i = KEEP_CHECKPOINTS - 1; i < older.size(); i++) {
            long s = older.get(i);
            if (!rank0.pinned.contains(s)) {
                removed.add(s);
            }
        }
        for (long s : removed) {
            store.remove(s);
            invariants.checkpointRemoved(s);
        }
        pending(rank0).checkpoints.add(new CheckpointWritten(step, tokens,
                g.checkpointDir + "/step-" + String.format("%08d", step), g.scaler.scale, loss,
                Long.toHexString(random.nextLong()) + Long.toHexString(random.nextLong()), 350L << 30, removed));
        // newer checkpoints of an older timeline are gone from storage once this one replaces the branch
        store.tailMap(step, false).entrySet().removeIf(e -> e.getValue().generation < g.generation);
    }

    private Pending pending(Node n) {
        return n.reports.computeIfAbsent(n.trainer.assignment, k -> new Pending());
    }

    private void report(Node n) {
        Map.Entry<Assignment, Pending> first = n.reports.entrySet().iterator().next();
        Assignment a = first.getKey();
        Pending p = first.getValue();
        n.reports.remove(a);
        n.reportInFlight = true;
        long newestAtSend = gangs.isEmpty() ? 0 : gangs.lastKey();
        TrainerReport r = new TrainerReport(a.runId(), a.rank(), a.generation(), List.copyOf(p.steps),
                List.copyOf(p.checkpoints), 0L);
        on(api.post("/api/v1/agents/" + n.id + "/reports", n.credential, r), (resp, e) -> {
            n.reportInFlight = false;
            n.nextReport = now() + settings.reportSeconds();
            if (e == null && resp.statusCode() / 100 == 2) {
                reportsAccepted++;
                invariants.reportAccepted(now(), a.generation(), a.rank(), newestAtSend);
                for (StepMetrics m : r.steps()) {
                    if (m.lossScale() < 1.0) {
                        invariants.divergenceOnset(m.step());
                        break;
                    }
                }
            } else if (e == null && resp.statusCode() == 409) {
                reportsFenced++; // a stale generation: its trainer is stopped, as the agent does
                if (n.trainer != null && same(n.trainer.assignment, a)) {
                    exit(n, ExitCodes.TERMINATED, null);
                }
            } else {
                reportErrors++;
                Pending back = n.reports.computeIfAbsent(a, k -> new Pending());
                back.steps.addAll(0, p.steps);
                back.checkpoints.addAll(0, p.checkpoints);
            }
        });
    }

    // ---- faults

    private void injectDue(double t) {
        Gang g = gangs.isEmpty() ? null : gangs.lastEntry().getValue();
        boolean running = g != null && (settings.onTraceClock() || g.stepped && g.canStep() && open == null);
        while (injecting && running && !trace.isEmpty() && trace.peek().atSeconds() <= t) {
            TraceModel.Event e = trace.poll();
            inject(e.cause(), e.pick(), g, t);
            running = false; // one failure per tick; a later one finds the gang as this one left it
        }
    }

    private void inject(Cause cause, long pick, Gang g, double t) {
        injected.merge(cause, 1, Integer::sum);
        if (open == null) {
            open = new Open(cause, t, g.step, g.generation);
        } else {
            open.faults++;
        }
        SplittableRandom r = new SplittableRandom(pick);
        Node victim = g.ranks[r.nextInt(g.ranks.length)];
        switch (cause) {
            case FATAL_XID -> {
                victim.pendingXid = 79;
                if (victim.trainer != null) {
                    victim.trainer.hung = true; // the GPU fell off the bus: the rank stops stepping
                }
                breakNode(victim);
            }
            case NODE_LOSS -> loseNode(victim);
            case PARTITION -> {
                victim.health = Health.PARTITIONED;
                breakNode(victim);
                victim.repairAt = t + settings.partitionSeconds();
            }
            case HANG -> {
                if (victim.trainer != null) {
                    victim.trainer.hung = true;
                }
            }
            case STRAGGLER -> {
                victim.slowdown = settings.stragglerSlowdown();
                victim.faulted = true; // repaired once it is out of the run (exit)
            }
            case TRAINER_CRASH -> exit(victim, r.nextInt(10) < 6 ? ExitCodes.SEGFAULT : 1, null);
            case DIVERGENCE -> {
                g.collapseFrom = g.step + 1;
                divergenceTrap = g.collapseFrom;
            }
            case CORRUPT_CHECKPOINT -> {
                Map.Entry<Long, Stored> newest = store.lastEntry();
                if (newest != null) {
                    newest.getValue().corrupt = true;
                }
                exit(victim, ExitCodes.SEGFAULT, null);
            }
            case SEVERAL_AT_ONCE -> {
                Cause[] kinds = {Cause.FATAL_XID, Cause.NODE_LOSS, Cause.PARTITION, Cause.HANG, Cause.TRAINER_CRASH};
                int count = 2 + r.nextInt(2);
                for (int i = 0; i < count; i++) {
                    inject(kinds[r.nextInt(kinds.length)], r.nextLong(), g, t);
                }
            }
            case RACK_LOSS -> {
                for (Node n : nodes) {
                    if (n.rack == victim.rack) {
                        loseNode(n);
                    }
                }
            }
        }
    }

    private void breakNode(Node n) {
        n.faulted = true;
        if (Double.isNaN(n.repairAt)) {
            n.repairAt = now() + settings.repairSeconds();
        }
    }

    private void loseNode(Node n) {
        if (n.health == Health.DOWN) {
            return;
        }
        n.health = Health.DOWN;
        n.trainer = null; // the machine is gone, and its agent's unsent lines with it
        n.exited = null;
        n.reports.clear();
        breakNode(n);
    }

    /**
     * Nodes the orchestrator failed that the trace did not break (the harness kept them silent too long, or their
     * peers' checks named them): the operator looks at them and readmits them after {@code repairSeconds}, as it
     * repairs a broken one. Without it a fleet with no node to spare (the baseline's) waits for ever. Returns how many
     * were newly scheduled. Called from the soak's watch with the orchestrator's list of FAILED nodes.
     */
    int readmitLater(java.util.Set<UUID> failed) {
        return onLoop(() -> {
            int scheduled = 0;
            for (Node n : nodes) {
                if (n.id != null && failed.contains(n.id) && !n.faulted && Double.isNaN(n.repairAt)) {
                    n.repairAt = now() + settings.repairSeconds();
                    spuriousFailures++;
                    scheduled++;
                }
            }
            return scheduled;
        });
    }

    /** The operator's repair: the node is back (a lost one re-registers, as a rebooted agent does) and uncordoned. */
    private void repair(Node n) {
        n.repairAt = Double.NaN;
        n.faulted = false;
        n.slowdown = 1;
        if (n.trainer != null) {
            n.trainer.hung = false;
        }
        boolean wasDown = n.health == Health.DOWN;
        n.health = Health.UP;
        if (wasDown) {
            n.id = null; // no heartbeats until it registered again
            register(n, ok -> uncordon(n));
        } else {
            uncordon(n);
        }
    }

    private void uncordon(Node n) {
        if (n.id == null) {
            n.repairAt = now() + 5; // its registration failed: try again
            return;
        }
        // 409 when it was never failed or cordoned: nothing to do
        on(api.adminPost("/api/v1/nodes/" + n.id + "/uncordon", null), (r, e) -> { });
    }

    // ---- recoveries

    private void closeRecovery(Gang g, double t) {
        Open o = open;
        open = null;
        long lost = Math.max(0, o.stepAtFailure - (g.restoreStep == null ? 0 : g.restoreStep));
        recoveries.add(new Recovery(o.cause, o.faults, o.generation, o.failedAt,
                Double.isNaN(o.stoppedAt) ? o.placedAt : o.stoppedAt, o.placedAt,
                g.readyAt - settings.restoreSeconds(), t, lost, o.humanSeconds));
    }

    /** The soak's operator resumed the paused run after {@code seconds}: that wait belongs to the open recovery. */
    void humanWaited(double seconds) {
        loop.execute(() -> {
            if (open != null) {
                open.humanSeconds += seconds;
            }
        });
    }

    // ---- helpers

    static Long stepOf(String path) {
        if (path == null) {
            return null;
        }
        Matcher m = STEP_IN_PATH.matcher(path);
        return m.find() ? Long.parseLong(m.group(1)) : null;
    }

    /** Runs {@code then} on the loop thread when the call completes. */
    private void on(CompletableFuture<HttpResponse<String>> call,
                    java.util.function.BiConsumer<HttpResponse<String>, Throwable> then) {
        call.whenCompleteAsync((r, e) -> {
            try {
                then.accept(r, e);
            } catch (RuntimeException ex) {
                ex.printStackTrace();
            }
        }, loop);
    }

    /** A consistent copy of the counters, taken on the loop thread. */
    record Snapshot(double at, long steps, long step, long generation, double sinceLastStep, int nodesUp,
                    int nodesDown, int partitioned, long reportsAccepted, long reportsFenced, long reportErrors,
                    long heartbeatErrors, int recoveries, boolean recovering, int queuedFaults,
                    Map<Cause, Integer> injected, long unprovokedRestarts) {
    }

    Snapshot snapshot() {
        return onLoop(() -> {
            int up = 0, down = 0, part = 0;
            for (Node n : nodes) {
                switch (n.health) {
                    case UP -> up++;
                    case DOWN -> down++;
                    case PARTITIONED -> part++;
                }
            }
            Gang g = gangs.isEmpty() ? null : gangs.lastEntry().getValue();
            double t = now();
            return new Snapshot(t, stepsTaken, g == null ? 0 : g.step, g == null ? 0 : g.generation,
                    t - lastStepAt, up, down, part, reportsAccepted, reportsFenced, reportErrors, heartbeatErrors,
                    recoveries.size(), open != null, trace.size(), new TreeMap<>(injected), unprovoked);
        });
    }

    List<Recovery> recoveries() {
        return onLoop(() -> List.copyOf(recoveries));
    }

    /** The per-minute counters so far, and the current ones last. */
    List<Progress> progress() {
        return onLoop(() -> {
            List<Progress> all = new ArrayList<>(progress);
            all.add(new Progress(now(), stepsTaken, injected.values().stream().mapToInt(Integer::intValue).sum()));
            return all;
        });
    }

    /** Runs {@code work} on the loop thread and waits for it (for the harness's checks). */
    <T> T onLoop(java.util.function.Supplier<T> work) {
        CompletableFuture<T> s = new CompletableFuture<>();
        loop.execute(() -> s.complete(work.get()));
        return s.join();
    }
}
