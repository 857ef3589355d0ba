package dev.steadyrun.trainer;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.trainer.TrainConfig.Precision;
import dev.steadyrun.trainer.TrainState.KnobRecord;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.Retention;
import dev.steadyrun.trainer.data.BatchSampler;
import dev.steadyrun.trainer.data.TokenShards;
import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.collectives.PeerLostException;
import dev.steadyrun.collectives.Rendezvous;

/**
 * The training loop, nanoGPT style: set the LR, forward/backward over the micro-batches, check for FP16 overflow,
 * unscale, clip, optimizer step, update the loss scaler, print the metrics line, checkpoint every
 * {@code checkpointInterval} steps (asynchronously). One instance runs one training session.
 *
 * <p>Every run is data parallel: one rank is a world of one, whose ring has no sockets and whose collectives return
 * at once, so the gradient reduction, overflow check, norm, clipping and optimizer step live in {@link DataParallel}
 * only. The test faults ({@link FaultPlan}) are asked at the top of each step, never read from the config here.
 */
public final class Trainer {

    private static final Logger log = LoggerFactory.getLogger(Trainer.class);

    /**
     * How this session was launched besides the config.
     *
     * @param restoreSha256 the SHA-256 the restored checkpoint's manifest must have (the orchestrator's record of
     *                      what its writer reported), or null to restore without that check
     * @param rendezvous host:port of rank 0's rendezvous endpoint; required when worldSize &gt; 1
     * @param ringSecret the generation's ring secret (from {@link RingSecret#ENV}); required when worldSize &gt; 1
     * @param snapshotDir the node's memory snapshot root (tmpfs, per run: {@link Snapshots}), or null for none;
     *                    {@code restore} {@code memory:STEP} gathers that snapshot from the ranks' roots
     */
    public record Launch(Path checkpointDir, String restore, String restoreSha256, RestartKnobs knobs, int rank,
                         int worldSize, long generation, String rendezvous, String runId, RingSecret ringSecret,
                         Path snapshotDir) {

        /** Ranks of one generation meet only ranks that name the same run (the orchestrator's run id). */
        public Launch {
            runId = runId == null || runId.isBlank() ? DataParallel.RING_ID : runId;
            if (restoreSha256 != null && (restore == null || restore.isBlank() || restore.equals("latest"))) {
                throw new IllegalArgumentException("--restore-sha256 needs --restore DIR (the checkpoint it sums)");
            }
            if (MemoryRestore.step(restore) >= 0 && snapshotDir == null) {
                throw new IllegalArgumentException("--restore " + restore + " needs --snapshot-dir (where the node"
                        + " holds its memory snapshots)");
            }
        }

        /** A launch without memory snapshots. */
        public Launch(Path checkpointDir, String restore, String restoreSha256, RestartKnobs knobs, int rank,
                      int worldSize, long generation, String rendezvous, String runId, RingSecret ringSecret) {
            this(checkpointDir, restore, restoreSha256, knobs, rank, worldSize, generation, rendezvous, runId,
                    ringSecret, null);
        }

        /** A single-rank launch has no rendezvous. */
        public Launch(Path checkpointDir, String restore, RestartKnobs knobs, int rank, int worldSize,
                      long generation) {
            this(checkpointDir, restore, null, knobs, rank, worldSize, generation, null, null, null, null);
        }
    }

    /** The run stopped because its loss became non-finite ({@link dev.steadyrun.protocol.ExitCodes#DIVERGED}). */
    public static final class DivergedException extends Exception {
        DivergedException(String message) {
            super(message);
        }
    }

    private final Consumer<TrainerLine> sink;
    /** Where the agent may ask for test faults (chaos), or null. */
    private final Path faultFile;
    /**
     * Warm restarts: the model and the data stay loaded after a session, for the next generation this process is
     * handed ({@link #restoreInPlace}); the caller closes the trainer once it exits.
     */
    private final boolean keepLoaded;
    private volatile boolean stopRequested;
    /** The agent asked this process to leave the current generation (and stay up): see {@link #requestLeave}. */
    private volatile boolean leaveRequested;
    /** The generation of the current (or last) session. */
    private volatile long generation = -1;

    // set up by start()
    private TrainConfig config;
    private OptModel model;
    /** Whether {@link #model} was built for emulated FP16. */
    private boolean modelFp16;
    private LossScaler scaler;
    private BatchSampler sampler;
    private TokenShards shards;
    /** The dataset {@link #shards} were opened from. */
    private String shardsData;
    private TrainState state;
    private double lastLoss = Double.NaN;
    /** Micro-batches per optimizer step on this rank: the config's accumulation divided by the world size. */
    private int accumulation;
    /** The gradients' reduction and the optimizer, over the ring of every world size (one rank: a world of one). */
    private DataParallel dp;
    /** Tensor parallelism's groups cut out of the world ring, or null when {@code tensorParallel} is 1. */
    private ParallelGroups groups;
    /** Test faults planned by the {@code debug*} config keys (the effective config: they may come from the checkpoint). */
    private FaultPlan faults;
    /** The checkpoint whose shards are being written, not yet committed; null when none. */
    private Pending pending;
    /** The newest checkpoint until its stall is logged, and how long the loop waited for the previous one. */
    private Pending copying;
    private long waitedNanos;
    /** This rank's memory snapshots, or null when the launch names no snapshot root or the interval is 0. */
    private Snapshots snapshots;

    public Trainer(Consumer<TrainerLine> sink) {
        this(sink, null);
    }

    /** @param faultFile the file the agent writes test faults into ({@link FaultPlan}), or null */
    public Trainer(Consumer<TrainerLine> sink, Path faultFile) {
        this(sink, faultFile, false);
    }

    /** @param keepLoaded keep the model and the data between sessions (warm restarts); {@link #close} frees them */
    public Trainer(Consumer<TrainerLine> sink, Path faultFile, boolean keepLoaded) {
        this.sink = sink;
        this.faultFile = faultFile;
        this.keepLoaded = keepLoaded;
    }

    /**
     * Ends the loop (SIGTERM) after the step whose gradient reduction sees the request, on every rank; pending
     * checkpoint writes still complete.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /**
     * Ends the session of {@code generation} as {@link #requestStop} does, but for good only for that generation: the
     * process stays up to be handed the next one. A request for another generation (one already left) is ignored.
     */
    public void requestLeave(long generation) {
        if (generation == this.generation) {
            leaveRequested = true;
        }
    }

    /** Whether the last session ended because it was asked to leave its generation. */
    public boolean left() {
        return leaveRequested;
    }

    /**
     * Initialises what a session needs before knowing its run (a hot spare's standby): ND4J's native backend, the
     * thread count and the dataset named by {@code explicit} (the defaults otherwise), kept for the first session.
     */
    public void warmUp(Map<String, String> explicit) throws IOException {
        long started = System.nanoTime();
        TrainConfig c = TrainConfig.fromMap(explicit);
        Host.applyThreads(c.threads());
        org.nd4j.linalg.factory.Nd4j.create(DataType.FLOAT, 16).addi(1).sumNumber();
        openData(c.data());
        log.info("standby: ND4J and the data set '{}' ready in {} ms, {} ms after the JVM started", c.data(),
                (System.nanoTime() - started) / 1_000_000, uptimeMillis());
    }

    /** Closes the data set (kept open between sessions with {@link #keepLoaded}); the model stays readable. */
    public void close() {
        if (shards != null) {
            shards.close();
            shards = null;
        }
    }

    /** The dataset of this session: the one already open when it is the same. */
    private void openData(String data) throws IOException {
        if (shards != null && data.equals(shardsData)) {
            return;
        }
        if (shards != null) {
            shards.close();
        }
        shards = TokenShards.open(Host.dataset(data), "train");
        shardsData = data;
    }

    /**
     * Restores or initializes, applies the restart knobs, and trains until {@code maxSteps} or a stop request.
     *
     * @param explicit the config keys given on this launch (file plus {@code --set}); on restore they are laid
     *                 over the checkpoint's config
     */
    public TrainConfig run(Map<String, String> explicit, Launch launch) throws IOException, DivergedException {
        generation = launch.generation();
        leaveRequested = false;
        pending = null;
        copying = null;
        // only the timeout keys are read before the restore: the rest of the config may come from it
        Map<String, String> timeouts = new LinkedHashMap<>();
        for (String key : List.of("peerTimeoutSeconds", "rendezvousTimeoutSeconds")) {
            if (explicit.containsKey(key)) {
                timeouts.put(key, explicit.get(key));
            }
        }
        TrainConfig t = TrainConfig.fromMap(timeouts);
        DistConfig base = DataParallel.distConfig(launch, Duration.ofSeconds(t.peerTimeoutSeconds()),
                Duration.ofSeconds(t.rendezvousTimeoutSeconds()));
        try (Collectives ring = Rendezvous.join(base)) {
            log.info("joined the ring of generation {} as rank {}/{}, {} ms after the JVM started",
                    launch.generation(), launch.rank(), launch.worldSize(), uptimeMillis());
            // every rank reads its own part of the checkpoint from the run's shared store (rank 0 picks which)
            CheckpointReader restored = Resume.open(launch, ring);
            try {
                start(explicit, restored, launch, ring, base);
            } finally {
                if (restored != null && MemoryRestore.step(launch.restore()) >= 0) {
                    MemoryRestore.release(restored.dir());
                }
            }
            if (groups != null && launch.snapshotDir() != null && config.snapshotInterval() > 0) {
                log.info("memory snapshots are off under tensor parallelism: restores read durable checkpoints");
            }
            snapshots = Snapshots.open(launch.snapshotDir(), groups == null ? config.snapshotInterval() : 0, dp, sink,
                    launch.generation(), base);
            // every rank writes its shards to the store; rank 0 commits them, tidies up and applies retention
            try (CheckpointStore store = CheckpointStore.forRank(launch.checkpointDir(),
                    new Retention(config.keepCheckpoints(), config.keepEvery()), launch.rank())) {
                loop(store, launch.generation());
            } finally {
                if (snapshots != null) {
                    snapshots.close();
                }
            }
        } finally {
            if (groups != null) {
                groups.close();
                groups = null;
            }
            if (!keepLoaded) {
                close();
            }
        }
        return config;
    }

    private static long uptimeMillis() {
        return ManagementFactory.getRuntimeMXBean().getUptime();
    }

    /**
     * @param restored the checkpoint to resume (every rank reads its own ranges of it), or null to start afresh
     * @param ring     the generation's world ring ({@code base} its configuration), cut into tensor and data groups
     *                 when the config asks for tensor parallelism
     */
    private void start(Map<String, String> explicit, CheckpointReader restored, Launch launch, Collectives ring,
                       DistConfig base) throws IOException {
        long started = System.nanoTime();
        RestartKnobs knobs = launch.knobs() == null ? RestartKnobs.NONE : launch.knobs();
        TrainState previous = restored == null ? null : TrainState.fromJson(restored.state());
        if (previous == null) {
            config = TrainConfig.fromMap(explicit);
        } else {
            Map<String, String> merged = new LinkedHashMap<>(previous.config());
            merged.putAll(explicit);
            config = TrainConfig.fromMap(merged);
            ModelConfig saved = TrainConfig.fromMap(previous.config()).modelConfig();
            if (!saved.equals(config.modelConfig())) {
                throw new TrainConfig.InvalidConfigException("the checkpoint's model " + saved
                        + " differs from the configured " + config.modelConfig() + ": layers, heads, dModel, seqLen"
                        + " and vocab cannot change on restore");
            }
        }
        int tensorParallel = config.tensorParallel();
        if (launch.worldSize() % tensorParallel != 0) {
            throw new TrainConfig.InvalidConfigException("tensorParallel: must divide the world size ("
                    + launch.worldSize() + "), was " + tensorParallel);
        }
        int dataParallel = launch.worldSize() / tensorParallel;
        long perMicro = (long) dataParallel * config.microBatch() * config.seqLen();
        if (config.batchTokens() % perMicro != 0) {
            throw new TrainConfig.InvalidConfigException("batchTokens: with " + dataParallel + " data-parallel"
                    + " rank(s) it must be a multiple of (worldSize/tensorParallel)·microBatch·seqLen (" + perMicro
                    + "), was " + config.batchTokens());
        }
        accumulation = (int) (config.batchTokens() / perMicro);
        Host.applyThreads(config.threads());
        log.info("backend: {}", Host.backend());
        boolean fp16 = config.precision() == Precision.FP16_EMULATED;
        Collectives dataRing = ring;
        TensorParallel tensorGroup = null;
        if (tensorParallel > 1) {
            groups = ParallelGroups.of(ring, base, tensorParallel);
            dataRing = groups.data();
            tensorGroup = new TensorParallel(groups.tensor());
        }
        // a warm restart keeps the previous generation's model unless it was cut into shards (fsdp) or slices (its
        // tensor group was the old generation's)
        if (restored == null || config.sharding() == TrainConfig.Sharding.FSDP || tensorGroup != null
                || !modelKept(fp16)) {
            // on restore the initial parameters are overwritten by the checkpoint's below; a tensor-parallel member
            // starts from its slice of the same whole model, so any split starts where one rank would
            model = OptModel.initialize(config.modelConfig(), DataType.FLOAT, config.seed(), fp16);
            if (tensorGroup != null) {
                model = OptModel.fromParams(config.modelConfig(), DataType.FLOAT, OptModel.tensorSlice(model.params(),
                        tensorGroup.rank(), tensorParallel), fp16, tensorGroup);
            }
            modelFp16 = fp16;
        }
        dp = DataParallel.over(dataRing, model.params(), config.sharding());
        if (groups != null) {
            dp.acrossTensorGroup(groups.tensor());
        }
        if (config.sharding() == TrainConfig.Sharding.FSDP) {
            model.shard(dp);
        }
        openData(config.data());
        // the members of a tensor group read the same rows: the data ranks split the batch
        sampler = new BatchSampler(shards, config.seed(), config.microBatch(), config.seqLen(), dp.rank(),
                dataParallel);
        if (restored != null) {
            restoreInPlace(restored, previous);
            log.info("restored step {} ({} written by {} rank(s)) in {} ms", restored.step(), restored.dir(),
                    restored.worldSize(), (System.nanoTime() - started) / 1_000_000);
        } else {
            scaler = newScaler();
        }
        dp.verifyIdentical(previous == null ? "initial" : "restored");
        faults = FaultPlan.of(config, faultFile);
        state = previous == null
                ? new TrainState(TrainState.FORMAT, 0, 0, 0, 1.0, null, null, null, scaler.state(), sampler.cursor(),
                config.seed(), config.toMap(), List.of(), launch.rank(), launch.worldSize(), launch.generation())
                : previous;
        applyKnobs(knobs, launch);
        log.info("model {} ({} parameters), {} precision, {} micro-batches of {}x{} per step on each of {} data"
                        + " rank(s) × {} tensor rank(s), from step {}; ready {} ms after the JVM started",
                config.model(), model.parameterCount(), config.precision().label, accumulation, config.microBatch(),
                config.seqLen(), dataParallel, tensorParallel, state.step(), uptimeMillis());
        log.info("{} sharding: {} bytes of FP32 parameters, gradients and Adam moments held by this rank between steps",
                config.sharding().label, dp.residentBytes());
    }

    /**
     * Whether the model of the previous session in this process can take the restore (same architecture and
     * precision): a warm restart then overwrites its tensors instead of building the graph again.
     */
    private boolean modelKept(boolean fp16) {
        boolean kept = model != null && modelFp16 == fp16 && model.config().equals(config.modelConfig());
        if (kept) {
            log.info("restoring into the model already in memory");
        }
        return kept;
    }

    /**
     * Puts the training state of a restore point into what this process holds: the parameters and Adam moments
     * (each rank its chunk, then all-gathered), the loss scaler and the data cursor. A collective. The model, the
     * ring ({@link #dp}) and the sampler exist already, whether this process was just launched or trained another
     * generation until now (a warm restart): the restore overwrites all of their state that training changes.
     */
    private void restoreInPlace(CheckpointReader point, TrainState previous) throws IOException {
        dp.restore(point, previous.adamSteps(), model.params());
        scaler = LossScaler.restore(config.lossScaleInit(), config.lossScaleFactor(), config.lossScaleWindow(),
                config.lossScaleMin(), previous.lossScaler());
        sampler.restore(previous.cursor());
    }

    private LossScaler newScaler() {
        return new LossScaler(config.lossScaleInit(), config.lossScaleFactor(), config.lossScaleWindow(),
                config.lossScaleMin());
    }

    /**
     * Applies each knob given on this launch and appends it to the history saved in every later checkpoint. The knobs
     * are valid by construction ({@link RestartKnobs} checks its bounds).
     */
    private void applyKnobs(RestartKnobs k, Launch launch) {
        long generation = launch.generation();
        List<KnobRecord> history = new ArrayList<>(state.knobHistory());
        double multiplier = state.lrMultiplier();
        Double peak = state.peakLrOverride();
        Double clip = state.clipNormOverride();
        String opt = state.optimizerOverride();
        long at = state.step();
        if (k.lrMultiplier() != null) {
            multiplier *= k.lrMultiplier();
            history.add(new KnobRecord(at, generation, "lrMultiplier", String.valueOf(k.lrMultiplier())));
        }
        if (k.lrOverride() != null) {
            peak = k.lrOverride();
            history.add(new KnobRecord(at, generation, "lrOverride", String.valueOf(peak)));
        }
        if (k.clipNorm() != null) {
            clip = k.clipNorm();
            history.add(new KnobRecord(at, generation, "clipNorm", String.valueOf(clip)));
        }
        if (k.resetLossScaler()) {
            scaler.reset();
            history.add(new KnobRecord(at, generation, "resetLossScaler", "true"));
        }
        if (k.skipBatches() > 0) {
            // a "batch" is one optimizer step's data: all its micro-batches
            sampler.skip(k.skipBatches() * accumulation);
            history.add(new KnobRecord(at, generation, "skipBatches", String.valueOf(k.skipBatches())));
        }
        if (k.optimizer() != null) {
            opt = k.optimizer();
            history.add(new KnobRecord(at, generation, "optimizer", opt));
        }
        state = new TrainState(TrainState.FORMAT, state.step(), state.tokensSeen(), state.adamSteps(), multiplier, peak,
                clip, opt, scaler.state(), sampler.cursor(), state.seed(), config.toMap(), List.copyOf(history),
                launch.rank(), launch.worldSize(), generation);
    }

    private void loop(CheckpointStore store, long generation) throws DivergedException {
        boolean fp16 = config.precision() == Precision.FP16_EMULATED;
        int rank = dp.rank();
        long tokensPerStep = config.batchTokens();   // the global batch: every rank divides by it
        double peakLr = state.peakLrOverride() != null ? state.peakLrOverride() : config.lr();
        double clipNorm = state.clipNormOverride() != null ? state.clipNormOverride() : config.clipNorm();
        Optimizer.Kind kind = Optimizer.Kind.of(state.optimizerOverride() != null ? state.optimizerOverride()
                : config.optimizer());
        LrSchedule schedule = config.lrSchedule(peakLr);
        Map<String, INDArray> grads = dp.gradients();
        Map<String, String> savedConfig = config.toMap();
        long step = state.step();
        long tokensSeen = state.tokensSeen();
        boolean stop = false;   // the stop request all ranks agreed on
        while (step < config.maxSteps() && !stop) {
            faults.poll(step, fp16);
            if (faults.hangsAt(step)) {
                hang(step);
                return;   // no more collectives: the other ranks are stuck in this step's
            }
            double faultLrFactor = faults.lrFactor(step);   // 1 unless the plan makes the run diverge
            long t0 = System.nanoTime();
            model.roundForwardWeights();
            double lossScale = fp16 ? scaler.scale() : 1.0;
            dp.zeroGradients();
            double lossSum = 0;
            double[] rms = new double[config.layers()];
            for (int micro = 0; micro < accumulation; micro++) {
                // rank r's micro-batches are numbered after the lower ranks', so no two draw the same masks
                OptModel.Pass pass = model.forwardBackward(sampler.next(), config.dropout(),
                        dropoutSeed(config.seed(), step, rank * accumulation + micro), lossScale / tokensPerStep, grads);
                lossSum += pass.lossSum();
                for (int i = 0; i < rms.length; i++) {
                    rms[i] += pass.activationRms()[i] / accumulation;
                }
            }
            if (fp16 && faults.forcesOverflow(step, lossScale)) {
                dp.poisonGradients();
            }
            // gradients summed over the ranks BEFORE the overflow check and the clipping; a stop request (SIGTERM)
            // on any rank ends the loop on every rank after this step
            DataParallel.Reduced r = dp.reduce(lossSum, fp16, lossScale, stopRequested || leaveRequested,
                    pending != null && pending.written(), pending != null && pending.failed());
            stop = r.stop();
            double loss = r.lossSum() / tokensPerStep;
            double lr = schedule.at(step, tokensSeen) * state.lrMultiplier() * faultLrFactor;
            boolean apply = fp16 ? scaler.update(r.overflow()) : !r.overflow();
            if (apply) {
                waitForCopy();   // the update changes the parameters and moments a checkpoint may still be copying
                if (snapshots != null) {
                    snapshots.waitForCopy();
                }
                double c = clipNorm > 0 && r.gradNorm() > clipNorm ? clipNorm / r.gradNorm() : 1.0;
                dp.step(kind, model.params(), c, lr, config.weightDecay(), config.beta1(), config.beta2(),
                        config.adamEps());
            }
            step++;
            tokensSeen += tokensPerStep;
            lastLoss = loss;
            System.gc();   // ND4J frees native memory only when its Java handles are collected
            if (faults.slowdown() > 1) {
                sleep((faults.slowdown() - 1) * (System.nanoTime() - t0) / 1e9);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            List<Double> norms = new ArrayList<>();
            for (double a : rms) {
                norms.add(a);
            }
            sink.accept(new StepMetrics(step, tokensSeen, loss, r.gradNorm(), lossScale, r.overflow(), lr,
                    tokensPerStep / seconds, seconds * 1000, StepMetrics.rssOfThisProcess(), norms, clipNorm));
            state = state.progressed(step, tokensSeen, dp.adamSteps(), scaler.state(), sampler.cursor(), savedConfig);
            if (!Double.isFinite(loss)) {
                throw new DivergedException("loss is " + loss + " at step " + step + " (lr " + lr + ", loss scale "
                        + lossScale + ")");
            }
            settle(store, generation, r.shardsWritten(), r.shardsFailed());
            if (snapshots != null) {
                // this step's snapshot, if due and the previous one is replicated (every rank decides alike)
                if (!stop && step % config.snapshotInterval() == 0 && !snapshots.busy()) {
                    snapshots.take(state, fp16 ? state.lossScaler().scale() : 1.0, lastLoss);
                } else if (!stop && step % config.snapshotInterval() == 0) {
                    log.warn("snapshot step {} skipped: the previous one is still being written", step);
                }
            }
            // a stop (SIGTERM, or leaving the generation) starts no new checkpoint: the restore point is chosen
            if (!stop && (step % config.checkpointInterval() == 0 || step == config.maxSteps())) {
                long pause = System.nanoTime();
                awaitPending(store, generation);
                checkpoint(store, generation, pause);
            }
        }
        awaitPending(store, generation);
        waitForCopy();
        if (snapshots != null) {
            snapshots.finish();
        }
        if (config.sharding() == TrainConfig.Sharding.FSDP) {
            log.info("fsdp: at most {} bytes of gathered parameters and gradient buffers held at once",
                    dp.peakGatheredBytes());
        }
        if (stop && !stopRequested && !leaveRequested) {
            // another rank was stopped (SIGTERM) and this one was not: not "done" (exit 0), the generation ended
            throw new PeerLostException("rank " + dp.worldRank() + "/" + dp.worldRanks() + ": stopped after step "
                    + step + " because another rank was asked to stop; the generation must be restarted", null);
        }
    }

    /** Test tool (chaos straggle): this rank is slow, and so every rank waits for it in the collectives. */
    private static void sleep(double seconds) {
        try {
            Thread.sleep((long) (seconds * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Test tool ({@code debugHangAtStep}): the step loop stops making progress; the JVM stays responsive. */
    private void hang(long step) {
        log.warn("debugHangAtStep={}: the step loop now blocks (test tool)", step);
        while (!stopRequested && !leaveRequested) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * A checkpoint whose shards this rank is writing: committed once every rank's are written (agreed over the ring,
     * so every rank decides alike), abandoned when any rank's write failed.
     */
    private record Pending(long step, CompletableFuture<Void> copied, CompletableFuture<List<ShardFile>> shards,
                           long tokensSeen, double lossScale, double loss) {
        boolean written() {
            return shards.isDone() && !shards.isCompletedExceptionally();
        }

        boolean failed() {
            return shards.isCompletedExceptionally();
        }
    }

    /**
     * Phase one of a sharded checkpoint, on every rank: this rank's chunks of the parameters and of Adam's moments
     * (and on rank 0 the state) are copied on the store's thread while the next step's forward and backward passes
     * run, then written while training goes on. The training loop pays for waiting for the previous checkpoint to
     * settle (from {@code pause}) and, before the next optimizer update, for any part of the copy not yet done: both
     * logged as the stall.
     */
    private void checkpoint(CheckpointStore store, long generation, long pause) {
        TrainState s = state;
        double lossScale = config.precision() == Precision.FP16_EMULATED ? s.lossScaler().scale() : 1.0;
        CheckpointStore.ShardWrite write = store.writeShardsAsync(s.step(), generation, dp.worldRank(),
                dp.shardParts(), dp.worldRank() == 0 ? s.toJson() : null);
        pending = new Pending(s.step(), write.copied(), write.written(), s.tokensSeen(), lossScale, lastLoss);
        copying = pending;
        waitedNanos = System.nanoTime() - pause;
    }

    /**
     * Before an optimizer update (and at the end): waits for the newest checkpoint's copy, usually done by then, and
     * logs that checkpoint's stall once.
     */
    private void waitForCopy() {
        if (copying == null) {
            return;
        }
        long t0 = System.nanoTime();
        copying.copied().join();
        long copyNanos = System.nanoTime() - t0;
        log.info("checkpoint step {}: this rank's shards handed to the writer, training stalled {} ms ({} ms"
                        + " waiting for the previous checkpoint and handing over, {} ms copying)", copying.step(),
                String.format(Locale.ROOT, "%.3f", (waitedNanos + copyNanos) / 1e6),
                String.format(Locale.ROOT, "%.3f", waitedNanos / 1e6),
                String.format(Locale.ROOT, "%.3f", copyNanos / 1e6));
        copying = null;
    }

    /** Before the next checkpoint, and at the end: this rank waits for its own shards, then the ranks agree. */
    private void awaitPending(CheckpointStore store, long generation) {
        if (pending == null) {
            return;
        }
        pending.shards().handle((files, error) -> null).join();
        int[] counts = dp.countShards(pending.written(), pending.failed());
        settle(store, generation, counts[0], counts[1]);
    }

    /**
     * Phase two once the ranks agreed (every rank calls this with the same counts): all written, the file sums are
     * exchanged and rank 0 writes the manifest and renames the checkpoint into place (then, and only then, it is
     * reported); any failed, it is abandoned on every rank.
     */
    private void settle(CheckpointStore store, long generation, int written, int failed) {
        if (pending == null) {
            return;
        }
        Pending p = pending;
        if (failed > 0) {
            pending = null;
            log.error("checkpoint at step {} abandoned: {} rank(s) could not write their shards", p.step(), failed,
                    p.failed() ? p.shards().handle((files, error) -> error).join() : null);
            if (dp.worldRank() == 0) {
                store.discardAsync(p.step(), generation);
            }
            return;
        }
        if (written < dp.worldRanks()) {
            return;
        }
        pending = null;
        List<ShardFile> all = dp.exchangeShardFiles(p.shards().join());
        if (dp.worldRank() != 0) {
            return;
        }
        store.commitAsync(p.step(), generation, dp.worldRanks(), dp.layout(), dp.tensorSplit(), all)
                .whenComplete((w, error) -> {
                    if (error != null) {
                        log.error("checkpoint at step {} failed", p.step(), error);
                    } else {
                        sink.accept(new CheckpointWritten(w.step(), p.tokensSeen(), w.path().toString(),
                                p.lossScale(), p.loss(), w.manifestSha256(), w.bytes(), w.removedSteps()));
                    }
                });
    }

    /** Dropout masks depend only on (seed, step, micro-batch), so a resumed run draws exactly the same ones. */
    static long dropoutSeed(long seed, long step, int micro) {
        long z = seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + micro * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public OptModel model() {
        return model;
    }

    public TrainState state() {
        return state;
    }
}
