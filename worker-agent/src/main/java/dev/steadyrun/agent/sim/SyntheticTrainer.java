package dev.steadyrun.agent.sim;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.random.RandomGenerator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.trainer.TrainerDriver;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * TEST TOOL — a trainer that only pretends: no process, no model. It steps on a timer, prints (into the report
 * buffer) a loss curve, checkpoints and faults from the {@link Scenario}, and obeys the same lifecycle rules as
 * the real {@link dev.steadyrun.agent.trainer.TrainerSupervisor}: one generation at a time, never the same
 * generation twice, stopped on STOP/IDLE, a newer generation or fencing, and killed by a local hang watchdog.
 */
final class SyntheticTrainer implements TrainerDriver {

    private static final Pattern STEP_IN_PATH = Pattern.compile("step-(\\d+)");

    private final int node;
    private final String nodeName;
    private final Scenario scenario;
    private final ReportBuffer reports;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final RandomGenerator random;
    private final IntConsumer xidOnGpu0;
    private final Set<Scenario.Fault> fired = new HashSet<>();

    private Assignment current;
    private ReportBuffer.Source source;
    private ScheduledFuture<?> ticking;
    private long step;
    private long maxSteps;
    private boolean hung;
    private Instant lastProgress;
    private TrainerStatus exited;

    SyntheticTrainer(int node, String nodeName, Scenario scenario, ReportBuffer reports,
                     ScheduledExecutorService scheduler, Clock clock, RandomGenerator random, IntConsumer xid) {
        this.node = node;
        this.nodeName = nodeName;
        this.scenario = scenario;
        this.reports = reports;
        this.scheduler = scheduler;
        this.clock = clock;
        this.random = random;
        this.xidOnGpu0 = xid;
    }

    /** A synthetic trainer writes no checkpoint files and so deletes none. */
    @Override
    public void keep(CheckpointPin pin) {
    }

    @Override
    public synchronized void apply(DesiredState desired, Assignment a) {
        if (desired != DesiredState.RUN || a == null) {
            exit(ExitCodes.TERMINATED, null);
            return;
        }
        if (current != null && current.runId().equals(a.runId()) && current.rank() == a.rank()
                && current.generation() == a.generation()) {
            return;
        }
        if (current == null && exited != null && a.runId().equals(exited.runId()) && a.rank() == exited.rank()
                && a.generation() == exited.generation()) {
            return;
        }
        exit(ExitCodes.TERMINATED, null);
        launch(a);
    }

    @Override
    public synchronized void fence(UUID runId, long generation) {
        if (current != null && current.runId().equals(runId) && current.generation() == generation) {
            exit(ExitCodes.TERMINATED, null);
        }
    }

    @Override
    public synchronized TrainerStatus status() {
        if (current != null) {
            return new TrainerStatus(step == restoredStep() ? TrainerState.STARTING : TrainerState.RUNNING,
                    current.runId(), current.rank(), current.generation(), null, step, List.of(), null);
        }
        return exited != null ? exited : TrainerStatus.idle();
    }

    @Override
    public synchronized void shutdown() {
        exit(ExitCodes.TERMINATED, null);
    }

    private long restoredStep() {
        if (current.restoreFrom() == null) {
            return 0;
        }
        Matcher m = STEP_IN_PATH.matcher(current.restoreFrom());
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    private void launch(Assignment a) {
        current = a;
        exited = null;
        source = new ReportBuffer.Source(a.runId(), a.rank(), a.generation());
        step = restoredStep();
        String configured = a.trainerConfig() == null ? null : a.trainerConfig().get("maxSteps");
        maxSteps = configured != null ? Long.parseLong(configured) : scenario.maxSteps();
        hung = false;
        lastProgress = clock.instant();
        ticking = scheduler.scheduleAtFixedRate(this::tick, scenario.stepMillis(), scenario.stepMillis(),
                TimeUnit.MILLISECONDS);
    }

    private synchronized void tick() {
        if (current == null) {
            return;
        }
        if (hung) {
            long timeout = current.hangTimeoutSeconds();
            if (timeout > 0 && Duration.between(lastProgress, clock.instant()).toSeconds() >= timeout) {
                exit(ExitCodes.KILLED, "simulated trainer: hang watchdog fired after " + timeout
                        + " s without a step; a synthetic trainer has no threads to dump");
            }
            return;
        }
        long next = step + 1;
        for (Scenario.Fault f : scenario.faults()) {
            if (f.node() == node && f.atStep() == next && fired.add(f)) {
                switch (f.kind()) {
                    case "xid" -> xidOnGpu0.accept(f.code());
                    case "hang" -> hung = true;
                    case "crash" -> {
                        exit(f.exitCode() == 0 ? 134 : f.exitCode(), null);
                        return;
                    }
                    case "divergence" -> {
                        step = next;
                        emitStep(Double.NaN);
                        exit(ExitCodes.DIVERGED, null);
                        return;
                    }
                    default -> throw new IllegalStateException(f.kind());
                }
            }
        }
        if (hung) {
            return;
        }
        step = next;
        emitStep(scenario.loss().at(step, random.nextGaussian()));
        if (step % scenario.checkpointEvery() == 0) {
            reports.add(source, new CheckpointWritten(step, step * scenario.tokensPerStep(),
                    "sim://" + nodeName + "/run-" + current.runId() + "/step-" + step, 1.0, 0,
                    Long.toHexString(random.nextLong()), 1L << 20));
        }
        if (step >= maxSteps) {
            exit(ExitCodes.OK, null);
        }
    }

    private void emitStep(double loss) {
        lastProgress = clock.instant();
        reports.add(source, new StepMetrics(step, step * scenario.tokensPerStep(), loss, 1.0, 1.0, false, 3e-4,
                scenario.tokensPerStep() * 1000.0 / scenario.stepMillis(), scenario.stepMillis(), 1L << 30,
                List.of()));
    }

    private void exit(int code, String dump) {
        if (current == null) {
            return;
        }
        ticking.cancel(false);
        exited = new TrainerStatus(TrainerState.EXITED, current.runId(), current.rank(), current.generation(), code,
                step, List.of("synthetic trainer exited with " + code), dump);
        current = null;
    }
}
