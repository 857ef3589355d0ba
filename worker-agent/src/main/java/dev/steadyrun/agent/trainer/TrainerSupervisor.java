package dev.steadyrun.agent.trainer;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Runs the real trainer-engine as a child process: at most one per node, launched for an assignment's
 * generation, stopped on STOP/IDLE, on a newer generation (the new one starts once the old one has exited) and
 * on fencing. A local watchdog kills a trainer that printed no step for the assignment's hang timeout, after
 * taking its thread dump.
 *
 * <p>An exited trainer stays reported as EXITED (with exit code, log tail and dump) until the next launch: the
 * same generation is never launched twice — a restart is always a new generation chosen by the orchestrator.
 *
 * <p>Warm restarts ({@link WarmSettings}, docs/agent.md): a trainer that declared the control channel is asked to
 * leave its generation instead of being stopped; its acknowledgement ({@link TrainerControl.Left}) is reported as
 * that generation's exit, and the process stays up, standing by, to be handed the node's next generation. One that
 * does not acknowledge within the deadline is stopped (the cold path). An idle node keeps a standby trainer of the
 * built-in program (a hot spare) that its first generation is handed to instead of a launch.
 */
public final class TrainerSupervisor implements TrainerDriver {

    private static final Logger log = LoggerFactory.getLogger(TrainerSupervisor.class);
    /** How long after the wrapper's grace period the agent kills the whole tree itself. */
    private static final Duration FALLBACK_MARGIN = Duration.ofSeconds(5);
    /** After a standby trainer exited, the next one waits this long: a broken command is not relaunched each beat. */
    private static final Duration SPARE_RETRY = Duration.ofMinutes(1);

    private final List<String> command;
    private final Map<ProgramRef, List<String>> programs;
    private final Path checkpointRoot;
    private final Duration grace;
    private final int tailLines;
    private final Clock clock;
    private final ReportBuffer reports;
    private final LogBuffer logs;
    private final ThreadDumper dumper;
    private final Path logDir;
    private final ScheduledExecutorService timers;
    private final WarmSettings warm;

    private TrainerProcess current;
    /** Where the current trainer reads test faults ({@link ChaosFault#FAULT_FILE_ENV}). */
    private Path currentFaultFile;
    /** A private folder for the trainers' fault files, made at the first launch. */
    private Path faultDir;
    private Assignment pending;
    private TrainerStatus exited;
    /** Control files are numbered: one per trainer process. */
    private long controlFiles;
    /** No hot spare before this (one exited early); null: any time. */
    private Instant spareNotBefore;
    /** The built-in command refused to stand by (no hello before it exited): no more hot spares. */
    private boolean standbyUnsupported;

    /**
     * @param logs   where the trainers' log lines wait to be shipped to the orchestrator's live log view
     * @param logDir where each trainer's whole log is written; null keeps only the last {@code tailLines}
     */
    public TrainerSupervisor(List<String> command, Path checkpointRoot, Duration grace, int tailLines, Clock clock,
                             ReportBuffer reports, LogBuffer logs, ThreadDumper dumper, Duration watchdogTick,
                             Path logDir) {
        this(command, Map.of(), checkpointRoot, grace, tailLines, clock, reports, logs, dumper, watchdogTick, logDir);
    }

    /**
     * @param command  starts the built-in program ({@link ProgramRef#BUILT_IN})
     * @param programs how to start each other program installed here (the agent's {@code programs} setting)
     */
    public TrainerSupervisor(List<String> command, Map<ProgramRef, List<String>> programs, Path checkpointRoot,
                             Duration grace, int tailLines, Clock clock, ReportBuffer reports, LogBuffer logs,
                             ThreadDumper dumper, Duration watchdogTick, Path logDir) {
        this(command, programs, checkpointRoot, grace, tailLines, clock, reports, logs, dumper, watchdogTick, logDir,
                WarmSettings.OFF);
    }

    /** @param warm warm restarts and hot spares */
    public TrainerSupervisor(List<String> command, Map<ProgramRef, List<String>> programs, Path checkpointRoot,
                             Duration grace, int tailLines, Clock clock, ReportBuffer reports, LogBuffer logs,
                             ThreadDumper dumper, Duration watchdogTick, Path logDir, WarmSettings warm) {
        this.warm = warm;
        this.command = List.copyOf(command);
        this.programs = Map.copyOf(programs);
        this.checkpointRoot = checkpointRoot;
        this.grace = grace;
        this.tailLines = tailLines;
        this.clock = clock;
        this.reports = reports;
        this.logs = logs;
        this.dumper = dumper;
        this.logDir = logDir;
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "trainer-watchdog");
            t.setDaemon(true);
            return t;
        });
        timers.scheduleWithFixedDelay(this::watchdog, watchdogTick.toMillis(), watchdogTick.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void apply(DesiredState desired, Assignment assignment) {
        boolean running = current != null && !current.standby();
        if (desired != DesiredState.RUN || assignment == null) {
            pending = null;
            if (running) {
                leaveOrStop(current, "orchestrator wants " + desired);
            } else if (current == null) {
                startSpare();
            }
            return;
        }
        if (running) {
            if (sameTrainer(current.assignment, assignment)) {
                return;
            }
            if (pending == null || !sameTrainer(pending, assignment)) {
                log.info("assignment changed to run {} rank {} generation {}: {} first", assignment.runId(),
                        assignment.rank(), assignment.generation(), current.name());
            }
            pending = assignment;
            leaveOrStop(current, "superseded by generation " + assignment.generation());
            return;
        }
        if (exited != null && exited.runId() != null && exited.runId().equals(assignment.runId())
                && exited.rank() == assignment.rank() && exited.generation() == assignment.generation()) {
            return; // that generation already ran here; only a new generation restarts it
        }
        if (current != null) { // standing by
            if (!current.stopRequested() && canTake(current, assignment)) {
                handOver(current, assignment);
            } else {
                pending = assignment;
                stop(current, "the standby trainer cannot take program " + assignment.programOrBuiltIn()
                        + " with environment " + TrainerEnvironment.ofRank(assignment));
            }
            return;
        }
        launch(assignment);
    }

    /**
     * A standby trainer takes a generation of the program it was started for: a hot spare (started in standby by
     * this agent, so it reads the control file once up) or one that declared the channel and left its last one —
     * and whose environment fits the rank: a process cannot change the GPU it sees or its thread count once running.
     */
    private boolean canTake(TrainerProcess p, Assignment a) {
        return p.program.equals(a.programOrBuiltIn()) && (p.assignment == null || p.controllable())
                && p.rankEnvironment().equals(TrainerEnvironment.ofRank(a));
    }

    /** A warm restart: the standby trainer is handed {@code a} instead of a new process being launched. */
    private void handOver(TrainerProcess p, Assignment a) {
        List<String> args = TrainerCommand.argv(List.of(), a, checkpointRoot);
        try {
            Files.createDirectories(TrainerCommand.checkpointDir(a, checkpointRoot));
            p.handOver(a, args);
            exited = null;
            log.info("handed run {} rank {}/{} generation {} to the running trainer (pid {}): no launch",
                    a.runId(), a.rank(), a.worldSize(), a.generation(), p.trainerPid());
        } catch (IOException e) {
            log.warn("cannot hand generation {} to the standby trainer ({}): stopping it, launching cold",
                    a.generation(), e.toString());
            pending = a;
            stop(p, "hand-over failed");
        }
    }

    /**
     * Asks a trainer that declared the control channel to leave its generation (it stays up), with a deadline for
     * its acknowledgement past which it is stopped; stops any other.
     */
    private void leaveOrStop(TrainerProcess p, String why) {
        if (p.stopRequested() || p.leaving()) {
            return;
        }
        if (!warm.warmRestart() || !p.controllable()) {
            stop(p, why);
            return;
        }
        Assignment leaving = p.assignment;
        try {
            p.requestLeave();
        } catch (IOException e) {
            log.warn("cannot ask trainer {} to leave ({}): stopping it", p.name(), e.toString());
            stop(p, why);
            return;
        }
        log.info("asking trainer {} to leave it ({}); the process stays up for the next generation", p.name(), why);
        timers.schedule(() -> {
            synchronized (this) {
                if (current == p && p.leaving() && p.assignment == leaving) {
                    log.warn("trainer {} did not acknowledge leaving within {} ms: stopping it (cold restart)",
                            p.name(), warm.ackTimeout().toMillis());
                    stop(p, "no acknowledgement of the leave");
                }
            }
        }, warm.ackTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * The trainer's acknowledgement: it left {@code left.generation()} and prints nothing more of it. That is the
     * generation's end as the orchestrator sees it (reported EXITED with the code it would have exited with); the
     * process stands by for the next one.
     */
    private synchronized void onLeft(TrainerProcess p, TrainerControl.Left left) {
        Assignment a = p.assignment;
        if (current != p || p.standby() || a == null || left.generation() != a.generation()) {
            log.warn("ignored an acknowledgement of leaving generation {} from trainer {}", left.generation(),
                    p.name());
            return;
        }
        p.left();
        exited = new TrainerStatus(TrainerState.EXITED, a.runId(), a.rank(), a.generation(), left.exitCode(),
                p.lastStep(), p.tail(), p.threadDump());
        log.info("trainer (pid {}) left generation {} with {} at step {}: standing by", p.trainerPid(),
                a.generation(), left.exitCode(), p.lastStep());
        if (pending != null) {
            Assignment next = pending;
            pending = null;
            apply(DesiredState.RUN, next);
        } else if (!warm.hotSpare()) {
            timers.schedule(() -> {
                synchronized (this) {
                    if (current == p && p.standby() && p.assignment == a) {
                        stop(p, "no new generation within " + warm.keep().toMillis() + " ms of leaving");
                    }
                }
            }, warm.keep().toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** A hot spare: the built-in program started in standby, when this node runs nothing. */
    private void startSpare() {
        if (!warm.hotSpare() || !warm.warmRestart() || standbyUnsupported || pending != null
                || spareNotBefore != null && clock.instant().isBefore(spareNotBefore)) {
            return;
        }
        List<String> argv = new java.util.ArrayList<>(command);
        argv.add(TrainerControl.STANDBY);
        try {
            start(null, ProgramRef.BUILT_IN, argv);
            log.info("started a standby trainer (hot spare, pid {})", current.process().pid());
        } catch (IOException | RuntimeException e) {
            log.warn("cannot start a standby trainer: {}", e.toString());
            spareNotBefore = clock.instant().plus(SPARE_RETRY);
        }
    }

    /**
     * Records the pin in the checkpoint directory when this node runs the run's rank 0 (the only rank that writes
     * and deletes checkpoints) and sees that directory.
     */
    @Override
    public synchronized void keep(CheckpointPin pin) {
        if (current == null || current.assignment == null || !current.assignment.runId().equals(pin.runId())
                || current.assignment.rank() != 0) {
            return;
        }
        Path dir = TrainerCommand.checkpointDir(current.assignment, checkpointRoot);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try {
            CheckpointPin.add(dir, pin.step());
            log.info("pinned checkpoint step {} of run {}: the trainer's retention keeps it", pin.step(), pin.runId());
        } catch (IOException e) {
            log.warn("cannot pin checkpoint step {} in {}: {}", pin.step(), dir, e.toString());
        }
    }

    @Override
    public synchronized void fence(UUID runId, long generation) {
        if (current != null && !current.standby() && current.assignment.runId().equals(runId)
                && current.assignment.generation() == generation) {
            stop(current, "generation " + generation + " fenced by the orchestrator");
        }
    }

    @Override
    public synchronized TrainerStatus status() {
        if (current != null && !current.standby()) {
            Assignment a = current.assignment;
            long step = current.lastStep();
            return new TrainerStatus(step < 0 ? TrainerState.STARTING : TrainerState.RUNNING, a.runId(), a.rank(),
                    a.generation(), null, step, List.of(), null);
        }
        return exited != null ? exited : TrainerStatus.idle();
    }

    /** Whether a trainer stands by, declared ready for a generation (a hot spare up, or one that left its last). */
    synchronized boolean standingBy() {
        return current != null && current.standby() && current.controllable() && !current.stopRequested();
    }

    /** The running trainer's own pid, for tests and diagnostics. */
    public synchronized Long trainerPid() {
        return current == null ? null : current.trainerPid();
    }

    /**
     * The first half of {@link #shutdown}: SIGTERM to the trainer (never a warm {@code leave}: the agent is going),
     * without waiting, so that a node's ranks stop side by side.
     */
    public synchronized void beginShutdown() {
        pending = null;
        stop(current, "agent shutting down");
    }

    @Override
    public void shutdown() {
        TrainerProcess p;
        synchronized (this) {
            p = current;
            beginShutdown();
        }
        if (p != null) {
            try {
                // until the exit is recorded (code, log tail), not only until the process is gone
                p.exitHandled().get(grace.plus(FALLBACK_MARGIN).toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                p.killEverything();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.killEverything();
            }
        }
        timers.shutdownNow();
    }

    /** Chaos (test tool): kills the trainer's whole process tree at once, as the loss of its host would. */
    public synchronized void killNow() {
        if (current != null) {
            current.killEverything();
        }
    }

    /**
     * Chaos (test tool): hands a trainer fault (hang, straggle, diverge) to the running trainer through its fault
     * file, when it runs that run's rank at that generation.
     */
    public synchronized void injectIntoTrainer(ChaosFault fault) {
        if (!runs(fault, fault.rank()) || current.assignment.generation() != fault.generation()) {
            log.warn("chaos #{}: no trainer of run {} rank {} generation {} here; ignored", fault.id(),
                    fault.runId(), fault.rank(), fault.generation());
            return;
        }
        try {
            Files.writeString(currentFaultFile, fault.kind().trainerLine() + "\n", StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            log.warn("chaos #{}: cannot write the trainer's fault file {}: {}", fault.id(), currentFaultFile,
                    e.toString());
        }
    }

    /**
     * Chaos (test tool): flips bytes in the largest data file of the named checkpoint of the run this node runs
     * rank 0 of (the rank that writes them), so that its checksum no longer matches the manifest. Only a
     * directory directly inside the run's own checkpoint directory is touched.
     */
    public synchronized void corruptCheckpoint(ChaosFault fault) {
        String name = fault.checkpoint();
        if (!runs(fault, 0) || name == null || !name.matches(ChaosFault.CHECKPOINT_NAME)) {
            log.warn("chaos #{}: no checkpoint '{}' of a run whose rank 0 runs here; ignored", fault.id(), name);
            return;
        }
        Path checkpoint = TrainerCommand.checkpointDir(current.assignment, checkpointRoot).resolve(name);
        try (var files = Files.list(checkpoint)) {
            Path victim = files.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().equals("manifest.json"))
                    .max(Comparator.comparingLong(TrainerSupervisor::size)).orElse(null);
            if (victim == null) {
                log.warn("chaos #{}: checkpoint {} holds no data file", fault.id(), checkpoint);
                return;
            }
            flipBytes(victim);
            log.warn("chaos #{}: flipped 64 bytes in the middle of {}", fault.id(), victim);
        } catch (IOException e) {
            log.warn("chaos #{}: cannot corrupt checkpoint {}: {}", fault.id(), checkpoint, e.toString());
        }
    }

    private boolean runs(ChaosFault fault, int rank) {
        return current != null && !current.standby() && current.assignment.runId().equals(fault.runId())
                && current.assignment.rank() == rank;
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    private static void flipBytes(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            byte[] b = new byte[(int) Math.min(64, f.length())];
            long at = (f.length() - b.length) / 2;
            f.seek(at);
            f.readFully(b);
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) ~b[i];
            }
            f.seek(at);
            f.write(b);
        }
    }

    private static boolean sameTrainer(Assignment a, Assignment b) {
        return a.runId().equals(b.runId()) && a.rank() == b.rank() && a.generation() == b.generation();
    }

    private void launch(Assignment a) {
        ProgramRef program = a.programOrBuiltIn();
        List<String> base = program.equals(ProgramRef.BUILT_IN) ? command : programs.get(program);
        if (base == null) {
            // placement only chooses nodes that advertised the program: this is an agent reconfigured since
            log.error("run {} trains program {}, which is not installed here (installed: {})", a.runId(), program,
                    programs.keySet());
            exited = new TrainerStatus(TrainerState.EXITED, a.runId(), a.rank(), a.generation(), 127, -1,
                    List.of("agent has no program " + program + " installed"), null);
            return;
        }
        List<String> argv = TrainerCommand.argv(base, a, checkpointRoot);
        try {
            Files.createDirectories(TrainerCommand.checkpointDir(a, checkpointRoot));
            TrainerProcess p = start(a, program, argv);
            exited = null;
            log.info("launched trainer for run {} rank {}/{} generation {} (wrapper pid {}): {}", a.runId(),
                    a.rank(), a.worldSize(), a.generation(), p.process().pid(), String.join(" ", argv));
        } catch (IOException | RuntimeException e) {
            log.error("cannot launch the trainer: {}", String.join(" ", argv), e);
            // 127: the shell's "command could not be run"; the orchestrator sees it like any failed start.
            exited = new TrainerStatus(TrainerState.EXITED, a.runId(), a.rank(), a.generation(), 127, -1,
                    List.of("agent could not launch the trainer: " + e), null);
        }
    }

    /** Starts a trainer process for {@code a} (null: a standby) and makes it the current one. */
    private TrainerProcess start(Assignment a, ProgramRef program, List<String> argv) throws IOException {
        if (faultDir == null) {
            faultDir = Files.createTempDirectory("steadyrun-trainer-faults-"); // owner-only
        }
        long n = ++controlFiles;
        Path faultFile = faultDir.resolve(a == null ? "standby-" + n
                : "run-" + a.runId() + "-rank" + a.rank() + "-gen" + a.generation());
        Files.deleteIfExists(faultFile);
        // offered to every program while warm restarts are on: one that does not declare it (no hello) is only ever
        // stopped and launched; with them off no trainer has the channel, so none outlives its generation
        Path controlFile = warm.warmRestart() ? faultDir.resolve("control-" + n) : null;
        TrainerProcess p = TrainerProcess.launch(a, argv, grace, tailLines, clock, reports, logs, logDir, faultFile,
                controlFile, program,
                a == null ? warm.spareEnvironment() : TrainerEnvironment.ofRank(a));
        current = p;
        currentFaultFile = faultFile;
        p.onLeft(left -> onLeft(p, left));
        p.exitHandled(p.process().onExit().thenRun(() -> onExit(p)));
        return p;
    }

    private void stop(TrainerProcess p, String why) {
        if (p == null || p.stopRequested()) {
            return;
        }
        log.info("stopping trainer {}: {}", p.name(), why);
        p.requestStop();
        timers.schedule(() -> {
            if (p.process().isAlive()) {
                log.warn("trainer {} outlived its grace period and the wrapper: killing it", p.name());
                p.killEverything();
            }
        }, grace.plus(FALLBACK_MARGIN).toMillis(), TimeUnit.MILLISECONDS);
    }

    private void onExit(TrainerProcess p) {
        try {
            p.drainPumps(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int code = p.process().exitValue();
        Assignment a = p.assignment;
        synchronized (this) {
            if (p.standby()) {
                // its last generation's end was reported when it left; a spare that never declared the control
                // channel does not know the standby command: no more spares
                if (a == null && !p.controllable()) {
                    standbyUnsupported = true;
                }
                spareNotBefore = clock.instant().plus(SPARE_RETRY);
                log.info("standby trainer exited with {}", code);
            } else {
                exited = new TrainerStatus(TrainerState.EXITED, a.runId(), a.rank(), a.generation(), code,
                        p.lastStep(), p.tail(), p.threadDump());
                log.info("trainer generation {} exited with {} at step {}", a.generation(), code, p.lastStep());
            }
            if (current == p) {
                current = null;
                try {
                    Files.deleteIfExists(currentFaultFile);
                    if (p.controlFile() != null) {
                        Files.deleteIfExists(p.controlFile());
                    }
                } catch (IOException e) {
                    log.debug("fault file {} stays: {}", currentFaultFile, e.toString());
                }
            }
            if (pending != null) {
                Assignment next = pending;
                pending = null;
                launch(next);
            }
        }
    }

    private void watchdog() {
        TrainerProcess p;
        synchronized (this) {
            p = current;
        }
        if (p == null || p.stopRequested() || p.standby() || p.assignment.hangTimeoutSeconds() <= 0) {
            return;
        }
        Duration quiet = Duration.between(p.lastProgress(), clock.instant());
        if (quiet.getSeconds() < p.assignment.hangTimeoutSeconds()) {
            return;
        }
        log.warn("trainer generation {} printed no step for {} s (hang timeout {} s): taking a thread dump, "
                + "then killing it", p.assignment.generation(), quiet.toSeconds(), p.assignment.hangTimeoutSeconds());
        String why = "hang watchdog: no step for " + quiet.toSeconds() + " s (timeout "
                + p.assignment.hangTimeoutSeconds() + " s, last step " + p.lastStep() + ")";
        String dump = dumper.dump(p.trainerPid());
        // an answer without a dump keeps its "no thread dump: " prefix first, so the orchestrator can tell
        p.threadDump(dump.startsWith(ThreadDumper.UNAVAILABLE) ? dump + "\n" + why : why + "\n" + dump);
        synchronized (this) {
            stop(p, "hang watchdog");
        }
    }
}
