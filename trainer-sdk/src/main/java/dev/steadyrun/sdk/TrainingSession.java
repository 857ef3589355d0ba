package dev.steadyrun.sdk;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.steadyrun.collectives.CollectiveException;
import dev.steadyrun.collectives.PeerLostException;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;
import dev.steadyrun.protocol.TrainerProtocol;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a training loop needs to run under Steadyrun (docs/trainer-protocol.md): the agent's arguments, the restored
 * checkpoint, the knobs in force, one step line per step, checksummed checkpoints, SIGTERM and the exit codes.
 *
 * <pre>
 * public static void main(String[] args) {
 *     TrainingSession.main(args, session -&gt; {
 *         // build the model; if (session.restored() != null) load its arrays and state;
 *         // session.dataParallel().broadcast(arrays): every rank starts from rank 0's
 *         while (session.running()) {
 *             // train on the examples session.slice(globalBatch) names, with session.lr(peak) and
 *             // session.clipNorm(default), the gradient averaged by session.dataParallel().averageGradients(flat)
 *             session.stepDone(loss, gradNorm, lr, clipNorm, globalBatch);
 *             if (session.checkpointDue()) session.checkpoint(arrays, myStateJson);
 *         }
 *     });
 * }
 * </pre>
 *
 * <p>Config keys the session reads itself: {@code maxSteps} (default 1000), {@code checkpointInterval} (100),
 * {@code keepCheckpoints} (3), with several ranks {@code peerTimeoutSeconds} (60) and {@code rendezvousTimeoutSeconds}
 * (120), and the test tool {@code debugDivergeLrFactor} (1000).
 *
 * <p>Data parallelism ({@code --world-size} above 1): the session joins the generation's ring before anything else
 * ({@link DataParallel}). Every rank reads the restored checkpoint and the ranks agree on the outcome (any rank's
 * corrupt read is exit 3 on every rank); the ranks agree at the top of each step whether to stop (SIGTERM on any
 * rank ends the loop on every rank after that step: the signalled rank exits 143, the others 5) and average the
 * step's loss; rank 0 alone prints checkpoint lines and writes, sets aside and deletes checkpoints. The data cursor
 * counts global batches and is the same on every rank; {@link #slice} is this rank's part of the current one.
 *
 * <p>Test faults: a {@code diverge} line in the agent's fault file ({@link ChaosFault#FAULT_FILE_ENV}, chaos
 * {@code DIVERGE}) multiplies the learning rate by {@code debugDivergeLrFactor} from the next step on, on every rank
 * (agreed over the ring), for this launch only: as the built-in trainer does in FP32. Other faults are ignored.
 */
public final class TrainingSession implements AutoCloseable {

    /** The program's training loop. */
    @FunctionalInterface
    public interface Loop {
        void train(TrainingSession session) throws Exception;
    }

    /** The loss became non-finite (exit 4); its step line was printed first. */
    public static final class DivergedException extends Exception {
        DivergedException(String message) {
            super(message);
        }
    }

    /**
     * This rank's part of global batch number {@link #dataCursor()}: the examples {@code first} to
     * {@code first + count - 1} of the data stream (batch b holds examples {@code b·globalBatch} to
     * {@code (b+1)·globalBatch - 1}; rank r takes the r-th of {@code worldSize} equal parts).
     */
    public record Slice(long first, int count) {
    }

    /** The restored checkpoint: the arrays and the program's own state as it saved them. */
    public record Restored(long step, Map<String, INDArray> arrays, String userState) {
    }

    /** The session's part of {@code state.json}; the program's state is kept as its own text. */
    record State(int format, long step, long tokensSeen, long dataCursor, double lastLoss, KnobsInForce knobs,
                 long generation, String user) {
    }

    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final int STATE_FORMAT = 1;

    private final TrainerArgs args;
    private final PrintStream out;
    private final long maxSteps;
    private final long checkpointInterval;
    private final int keep;
    private final Restored restored;
    private KnobsInForce knobs;
    private final AtomicBoolean stopRequested;
    private final DataParallel dp;
    private final Path faultFile;
    private final double divergeLrFactor;
    /** A {@code diverge} fault was read here; agreed with the other ranks at the top of the next step. */
    private boolean divergeAsked;
    private double faultLrFactor = 1.0;
    /** The stop the ranks agreed on (this rank's SIGTERM or another's). */
    private boolean stopAgreed;
    private long step;
    private long tokensSeen;
    private long dataCursor;
    private double lastLoss = Double.NaN;
    private long stepStarted;

    /**
     * Joins the ring (with several ranks), restores the checkpoint {@code args} names and applies the knobs.
     *
     * @param ringSecret    the generation's ring secret; required with several ranks
     * @param faultFile     where the agent writes test faults, or null
     * @param stopRequested set by SIGTERM
     */
    TrainingSession(TrainerArgs args, RingSecret ringSecret, Path faultFile, PrintStream out,
                    AtomicBoolean stopRequested) throws IOException {
        this.args = args;
        this.out = out;
        this.stopRequested = stopRequested;
        this.faultFile = faultFile;
        maxSteps = args.longValue("maxSteps", 1000);
        checkpointInterval = args.longValue("checkpointInterval", 100);
        keep = (int) args.longValue("keepCheckpoints", 3);
        divergeLrFactor = args.real("debugDivergeLrFactor", 1000);
        if (maxSteps < 0 || checkpointInterval < 1 || keep < 1 || !(divergeLrFactor > 0)) {
            throw new IllegalArgumentException("maxSteps must be ≥ 0, checkpointInterval and keepCheckpoints ≥ 1,"
                    + " debugDivergeLrFactor > 0");
        }
        Files.createDirectories(args.checkpointDir());
        // first, as the built-in trainer does: a rank of a stale generation is fenced before it touches anything
        dp = DataParallel.join(args, ringSecret);
        try {
            restored = restore();
        } catch (IOException | RuntimeException e) {
            dp.close();
            throw e;
        }
        dataCursor += args.knobs().skipBatches();
    }

    private Restored restore() throws IOException {
        boolean manager = dp.rank() == 0; // rank 0 alone arranges the run's checkpoint directory
        KnobsInForce previous = KnobsInForce.NONE;
        Restored loaded = null;
        if (args.restore() != null) {
            CheckpointFiles.Content c = null;
            IOException failed = null;
            try {
                c = CheckpointFiles.load(args.restore(), args.restoreSha256());
            } catch (IOException e) {
                failed = e;
            }
            agreeOnRestore(failed);
            State s = JSON.readValue(c.stateJson(), State.class);
            if (s.format() != STATE_FORMAT) {
                throw new CheckpointFiles.CorruptException(args.restore() + ": state format " + s.format());
            }
            step = s.step();
            tokensSeen = s.tokensSeen();
            dataCursor = s.dataCursor();
            lastLoss = s.lastLoss();
            previous = s.knobs();
            loaded = new Restored(s.step(), c.arrays(), s.user());
            if (manager) {
                CheckpointFiles.setAsideNewer(args.checkpointDir(), step, args.generation());
                CheckpointPin.clear(args.checkpointDir()); // the previous generation's pin has served
            }
        } else if (manager) {
            // starting over in a run's directory (no usable checkpoint): the old steps must not collide with new ones
            CheckpointFiles.setAsideNewer(args.checkpointDir(), 0, args.generation());
        }
        knobs = previous.apply(args.knobs(), step, args.generation());
        return loaded;
    }

    /**
     * Every rank read the checkpoint itself; all fail alike, as in the built-in trainer: this rank's own failure is
     * rethrown, another rank's corrupt read makes it corrupt here too (exit 3), another rank's unreadable store is
     * that rank's problem (exit 7 there) and a lost peer here.
     */
    private void agreeOnRestore(IOException mine) throws IOException {
        double[] failures = {mine instanceof CheckpointFiles.CorruptException ? 1 : 0,
                mine != null && !(mine instanceof CheckpointFiles.CorruptException) ? 1 : 0};
        dp.sum(failures);
        if (mine != null) {
            throw mine;
        }
        if (failures[0] > 0) {
            throw new CheckpointFiles.CorruptException(args.restore() + ": another rank found it corrupt (its log"
                    + " names the file)");
        }
        if (failures[1] > 0) {
            throw new PeerLostException("another rank cannot read checkpoint " + args.restore()
                    + "; the generation must be restarted", null);
        }
    }

    /**
     * Runs {@code loop} as the program's {@code main} and exits with the protocol's code; after SIGTERM it lets the
     * JVM end with 143 once the loop has stopped. With several ranks the ring secret comes from
     * {@link RingSecret#ENV}.
     */
    public static void main(String[] args, Loop loop) {
        PrintStream stdout = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err); // stdout carries protocol lines only; ND4J prints diagnostics on System.out
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        Thread onSigterm = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(10, TimeUnit.MINUTES); // the loop ends after its current step
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "sigterm");
        Runtime.getRuntime().addShutdownHook(onSigterm);
        int code;
        try (TrainingSession session = new TrainingSession(TrainerArgs.parse(args, System.getenv(TrainerProtocol.ENV)),
                RingSecret.fromEnvironment(System.getenv(RingSecret.ENV)), faultFile(System.getenv(ChaosFault.FAULT_FILE_ENV)),
                stdout, stop)) {
            session.train(loop);
            code = ExitCodes.OK;
        } catch (Throwable e) {
            code = exitCode(e);
            System.err.println("error: " + e.getMessage());
            if (code == 1) {
                e.printStackTrace();
            }
            if (e instanceof PeerLostException lost) {
                // last, so it is in the log tail the agent sends: the orchestrator reads who is cut off from it
                lost.check().ifPresent(check -> System.err.println(check.line()));
            }
        } finally {
            finished.countDown();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(onSigterm);
        } catch (IllegalStateException shuttingDown) {
            return; // SIGTERM: the JVM exits with 143 once the hook returns
        }
        System.exit(code);
    }

    /** Runs the loop; a loop that ended because another rank was stopped did not finish (exit 5). */
    void train(Loop loop) throws Exception {
        loop.train(this);
        if (stopAgreed && !stopRequested.get()) {
            throw new PeerLostException("rank " + dp.rank() + "/" + dp.worldSize() + ": stopped after step " + step
                    + " because another rank was asked to stop; the generation must be restarted", null);
        }
    }

    private static Path faultFile(String value) {
        return value == null || value.isBlank() ? null : Path.of(value);
    }

    /** The protocol's exit code for what ended the loop. */
    static int exitCode(Throwable e) {
        if (e instanceof CollectiveException c) {
            return c.exitCode(); // a lost peer (5), a stale generation (6), a misfit refused at rendezvous (2)
        }
        if (e instanceof CheckpointFiles.CorruptException) {
            return ExitCodes.CORRUPT_CHECKPOINT;
        }
        if (e instanceof CheckpointFiles.UnavailableException) {
            return ExitCodes.CHECKPOINT_UNAVAILABLE;
        }
        if (e instanceof DivergedException) {
            return ExitCodes.DIVERGED;
        }
        if (e instanceof IllegalArgumentException) {
            return ExitCodes.BAD_CONFIG;
        }
        return 1;
    }

    public TrainerArgs args() {
        return args;
    }

    /** The checkpoint this launch resumed, or null on a fresh start. */
    public Restored restored() {
        return restored;
    }

    /** Steps done so far (the restored step after a restore). */
    public long step() {
        return step;
    }

    /** The data position of the next batch: batches consumed so far, skipped ones included. */
    public long dataCursor() {
        return dataCursor;
    }

    public KnobsInForce knobs() {
        return knobs;
    }

    /** This rank's place in the ring; a world of one without several ranks. */
    public DataParallel dataParallel() {
        return dp;
    }

    /**
     * This rank's part of the current global batch of {@code globalBatch} examples (a multiple of the world size,
     * else exit 2). One rank takes all of it.
     */
    public Slice slice(int globalBatch) {
        int n = dp.worldSize();
        if (globalBatch < n || globalBatch % n != 0) {
            throw new IllegalArgumentException("the global batch (" + globalBatch + ") must be a multiple of the"
                    + " world size (" + n + ")");
        }
        int count = globalBatch / n;
        return new Slice(dataCursor * globalBatch + (long) dp.rank() * count, count);
    }

    /**
     * True while the loop should train another step: before {@code maxSteps} and no SIGTERM on any rank. Called at
     * the top of each step (with several ranks it is a collective), it also starts the step's clock (so a
     * checkpoint write is not counted as step time).
     */
    public boolean running() {
        if (step >= maxSteps) {
            return false; // every rank counts the same steps: nothing to agree on
        }
        pollFaults();
        double[] flags = {stopRequested.get() ? 1 : 0, divergeAsked ? 1 : 0};
        dp.sum(flags);
        stopAgreed = flags[0] > 0;
        if (flags[1] > 0 && faultLrFactor == 1.0) {
            faultLrFactor = divergeLrFactor;
            System.err.println("chaos (test tool): diverge from step " + (step + 1) + ": the learning rate × "
                    + divergeLrFactor);
        }
        stepStarted = System.nanoTime();
        return !stopAgreed;
    }

    /** Takes up a fault the agent wrote (test tool); the file is read once and deleted. */
    private void pollFaults() {
        if (faultFile == null) {
            return;
        }
        List<String> lines;
        try {
            lines = ChaosFault.take(faultFile);
        } catch (IOException e) {
            System.err.println("fault file " + faultFile + " unreadable: " + e);
            return;
        }
        for (String fault : lines) {
            if (fault.equals(ChaosFault.Kind.DIVERGE.trainerLine())) {
                divergeAsked = true;
            } else {
                System.err.println("fault file " + faultFile + ": '" + fault + "' is not implemented by the SDK,"
                        + " ignored");
            }
        }
    }

    /**
     * The learning rate to apply: {@code scheduled} (from the configured peak) under the knobs in force (and a
     * chaos divergence's factor, test tool).
     */
    public double lr(double scheduled, double configuredPeak) {
        double peakRatio = knobs.lrOverride() == null ? 1.0 : knobs.lrOverride() / configuredPeak;
        return scheduled * peakRatio * knobs.lrMultiplier() * faultLrFactor;
    }

    /** The clipping threshold in force: a {@code clipNorm} knob's, or {@code configured}. 0: no clipping. */
    public double clipNorm(double configured) {
        return knobs.clipNorm() != null ? knobs.clipNorm() : configured;
    }

    /**
     * Records a finished optimizer step and prints its line; with several ranks {@code loss} (this rank's) is
     * averaged over the ranks first (a collective).
     *
     * @param gradNorm the global gradient norm, measured on the averaged gradient
     * @param tokens   the step's tokens (or examples), all ranks together: the global batch
     * @throws DivergedException when the loss is not finite, after printing the line
     */
    public void stepDone(double loss, double gradNorm, double lr, double clipNorm, long tokens)
            throws DivergedException {
        if (dp.worldSize() > 1) {
            double[] sum = {loss};
            dp.sum(sum);
            loss = sum[0] / dp.worldSize();
        }
        double seconds = Math.max(1e-9, (System.nanoTime() - stepStarted) / 1e9);
        step++;
        dataCursor++;
        tokensSeen += tokens;
        lastLoss = loss;
        emit(new StepMetrics(step, tokensSeen, loss, gradNorm, 1.0, false, lr, tokens / seconds, seconds * 1000,
                StepMetrics.rssOfThisProcess(), List.of(), clipNorm));
        if (!Double.isFinite(loss)) {
            throw new DivergedException("loss is " + loss + " at step " + step);
        }
    }

    /** True when the step just done should be checkpointed: every {@code checkpointInterval} and at the end. */
    public boolean checkpointDue() {
        return step > 0 && (step % checkpointInterval == 0 || step == maxSteps);
    }

    /**
     * Writes a checkpoint of the step just done and prints its line once it is in place; rank 0 alone does (every
     * rank holds the same state), the other ranks return at once.
     */
    public void checkpoint(Map<String, INDArray> arrays, String userState) throws IOException {
        if (dp.rank() != 0) {
            return;
        }
        String state = JSON.writeValueAsString(new State(STATE_FORMAT, step, tokensSeen, dataCursor, lastLoss, knobs,
                args.generation(), userState));
        CheckpointFiles.Written w = CheckpointFiles.write(args.checkpointDir(), step, arrays, state, keep);
        emit(new CheckpointWritten(step, tokensSeen, w.path().toString(), 1.0, lastLoss, w.manifestSha256(),
                w.bytes(), w.removedSteps()));
    }

    private synchronized void emit(TrainerLine line) {
        out.println(TrainerLines.write(line));
    }

    /** Leaves the ring. */
    @Override
    public void close() {
        dp.close();
    }
}
