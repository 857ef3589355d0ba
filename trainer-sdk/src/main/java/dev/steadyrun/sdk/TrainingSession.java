package dev.steadyrun.sdk;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.ExitCodes;
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
 *         // build the model; if (session.restored() != null) load its arrays and state
 *         while (session.running()) {
 *             // train on batch session.dataCursor() with session.lr(peak) and session.clipNorm(default)
 *             session.stepDone(loss, gradNorm, lr, tokens);
 *             if (session.checkpointDue()) session.checkpoint(arrays, myStateJson);
 *         }
 *     });
 * }
 * </pre>
 *
 * <p>Config keys the session reads itself: {@code maxSteps} (default 1000), {@code checkpointInterval} (100),
 * {@code keepCheckpoints} (3). The session trains one rank: a world size above 1 is refused (exit 2).
 */
public final class TrainingSession {

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
    private final KnobsInForce knobs;
    private final AtomicBoolean stopRequested;
    private long step;
    private long tokensSeen;
    private long dataCursor;
    private double lastLoss = Double.NaN;
    private long stepStarted;

    private TrainingSession(TrainerArgs args, PrintStream out, AtomicBoolean stopRequested) throws IOException {
        this.args = args;
        this.out = out;
        this.stopRequested = stopRequested;
        if (args.worldSize() > 1) {
            throw new IllegalArgumentException("--world-size " + args.worldSize() + ": this SDK trains one rank");
        }
        maxSteps = args.longValue("maxSteps", 1000);
        checkpointInterval = args.longValue("checkpointInterval", 100);
        keep = (int) args.longValue("keepCheckpoints", 3);
        if (maxSteps < 0 || checkpointInterval < 1 || keep < 1) {
            throw new IllegalArgumentException("maxSteps must be ≥ 0, checkpointInterval and keepCheckpoints ≥ 1");
        }
        Files.createDirectories(args.checkpointDir());
        KnobsInForce previous = KnobsInForce.NONE;
        if (args.restore() != null) {
            CheckpointFiles.Content c = CheckpointFiles.load(args.restore(), args.restoreSha256());
            State s = JSON.readValue(c.stateJson(), State.class);
            if (s.format() != STATE_FORMAT) {
                throw new CheckpointFiles.CorruptException(args.restore() + ": state format " + s.format());
            }
            step = s.step();
            tokensSeen = s.tokensSeen();
            dataCursor = s.dataCursor();
            lastLoss = s.lastLoss();
            previous = s.knobs();
            restored = new Restored(s.step(), c.arrays(), s.user());
            CheckpointFiles.setAsideNewer(args.checkpointDir(), step, args.generation());
            CheckpointPin.clear(args.checkpointDir()); // the previous generation's pin has served
        } else {
            restored = null;
            // starting over in a run's directory (no usable checkpoint): the old steps must not collide with new ones
            CheckpointFiles.setAsideNewer(args.checkpointDir(), 0, args.generation());
        }
        knobs = previous.apply(args.knobs(), step, args.generation());
        dataCursor += args.knobs().skipBatches();
    }

    /**
     * Runs {@code loop} as the program's {@code main} and exits with the protocol's code; after SIGTERM it lets the
     * JVM end with 143 once the loop has stopped.
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
        try {
            loop.train(new TrainingSession(TrainerArgs.parse(args, System.getenv(TrainerProtocol.ENV)), stdout, stop));
            code = ExitCodes.OK;
        } catch (Throwable e) {
            code = exitCode(e);
            System.err.println("error: " + e.getMessage());
            if (code == 1) {
                e.printStackTrace();
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

    /** The protocol's exit code for what ended the loop. */
    static int exitCode(Throwable e) {
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

    /**
     * True while the loop should train another step: before {@code maxSteps} and no SIGTERM. Called at the top of
     * each step, it also starts the step's clock (so a checkpoint write is not counted as step time).
     */
    public boolean running() {
        stepStarted = System.nanoTime();
        return step < maxSteps && !stopRequested.get();
    }

    /** The learning rate to apply: {@code scheduled} (from the configured peak) under the knobs in force. */
    public double lr(double scheduled, double configuredPeak) {
        double peakRatio = knobs.lrOverride() == null ? 1.0 : knobs.lrOverride() / configuredPeak;
        return scheduled * peakRatio * knobs.lrMultiplier();
    }

    /** The clipping threshold in force: a {@code clipNorm} knob's, or {@code configured}. 0: no clipping. */
    public double clipNorm(double configured) {
        return knobs.clipNorm() != null ? knobs.clipNorm() : configured;
    }

    /**
     * Records a finished optimizer step (one batch of {@code tokens}) and prints its line.
     *
     * @throws DivergedException when the loss is not finite, after printing the line
     */
    public void stepDone(double loss, double gradNorm, double lr, double clipNorm, long tokens)
            throws DivergedException {
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

    /** Writes a checkpoint of the step just done and prints its line once it is in place. */
    public void checkpoint(Map<String, INDArray> arrays, String userState) throws IOException {
        String state = JSON.writeValueAsString(new State(STATE_FORMAT, step, tokensSeen, dataCursor, lastLoss, knobs,
                args.generation(), userState));
        CheckpointFiles.Written w = CheckpointFiles.write(args.checkpointDir(), step, arrays, state, keep);
        emit(new CheckpointWritten(step, tokensSeen, w.path().toString(), 1.0, lastLoss, w.manifestSha256(),
                w.bytes(), w.removedSteps()));
    }

    private synchronized void emit(TrainerLine line) {
        out.println(TrainerLines.write(line));
    }
}
