package dev.steadyrun.agent.trainer;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;

/**
 * One launched trainer: the child process, the threads that pump its stdout (metric lines) and stderr (log),
 * and what was learnt from them.
 *
 * <p>The trainer is started through {@link #WRAPPER}, a small shell script run under {@code setsid}, so that
 * the trainer and everything it starts form their own process group and session. The wrapper holds the read
 * end of a pipe whose only writer is this agent (its stdin). When that pipe closes — because the agent asked
 * for a stop, or because the agent died, even by SIGKILL, and the kernel closed its descriptors — the wrapper
 * sends SIGTERM to the whole process group, waits the grace period, and then sends SIGKILL to the group. So a
 * dead agent never leaves a trainer behind, without any cooperation from the trainer. The trainer gets only the
 * allowed part of the agent's environment ({@link TrainerEnvironment}).
 */
final class TrainerProcess {

    private static final Logger log = LoggerFactory.getLogger(TrainerProcess.class);
    /** Standby trainers started by this agent, for their log files' names. */
    private static final AtomicLong STANDBYS = new AtomicLong();
    private static final String PID_LINE = "steadyrun-wrapper: trainer pid ";

    /**
     * $1 = grace in tenths of a second, the rest = the trainer command. The shells ignore SIGTERM only after the
     * trainer started (an ignored signal would be inherited by it), so a group-wide SIGTERM reaches the trainer
     * and its children but not the wrapper, which stays to collect the exit code.
     */
    static final String WRAPPER = """
            ticks=$1; shift
            exec 3<&0 </dev/null
            "$@" 3<&- &
            child=$!
            trap '' TERM
            echo "steadyrun-wrapper: trainer pid $child" >&2
            (
              read -r _ <&3
              kill -TERM 0
              i=0
              while kill -0 "$child" 2>/dev/null && [ "$i" -lt "$ticks" ]; do sleep 0.1; i=$((i+1)); done
              if kill -0 "$child" 2>/dev/null; then kill -KILL 0; fi
            ) &
            watcher=$!
            exec 3<&-
            wait "$child"
            code=$?
            kill -KILL "$watcher" 2>/dev/null
            kill -TERM 0 2>/dev/null
            exit "$code"
            """;

    /**
     * The generation this process runs; a warm restart hands it the next one ({@link #handOver}). Null for a hot
     * spare's standby trainer until its first generation.
     */
    volatile Assignment assignment;
    /** Where its lines go: the generation it runs. Null while it runs none. */
    private volatile ReportBuffer.Source source;
    /** The program this process runs: it may be handed generations of that program only. */
    final ProgramRef program;
    /** The control file ({@link TrainerControl}), or null when this trainer is not offered one. */
    private final Path controlFile;
    /** What this process's environment says about its rank (its GPU, its threads): fixed once the JVM runs. */
    private final Map<String, String> rankEnvironment;
    /** The trainer printed its {@link TrainerControl.Hello}: it can leave a generation and be handed another. */
    private volatile boolean controllable;
    /** It runs no generation (a spare waiting for its first, or a trainer that left its last): lines are dropped. */
    private volatile boolean standby;
    /** Asked to leave its generation, no acknowledgement yet. */
    private volatile boolean leaving;
    private volatile Consumer<TrainerControl.Left> onLeft = left -> { };
    /** The last generation the trainer said on stderr it left. Guarded by {@code tail}. */
    private long stderrLeft = -1;
    private final Process process;
    private final Thread stdoutPump;
    private final Thread stderrPump;
    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private final int tailLines;
    private final Clock clock;
    private final LogBuffer logs;
    /** The number of the next log line shipped to the orchestrator (both pumps count here). Guarded by itself. */
    private final long[] logSeq = new long[1];
    /**
     * The trainer's whole log (stderr and non-metric stdout), or null when the agent keeps only the tail. Guarded by
     * {@code tail}; null once closed, so a line that a lingering grandchild prints later is skipped.
     */
    private BufferedWriter logFile;
    private volatile Long trainerPid;
    private volatile long lastStep = -1;
    private volatile Instant lastProgress;
    private volatile boolean stopRequested;
    private volatile String threadDump;
    private volatile CompletableFuture<Void> exitHandled;

    private TrainerProcess(Assignment assignment, Process process, int tailLines, Clock clock,
                           ReportBuffer reports, LogBuffer logs, BufferedWriter logFile, Path controlFile,
                           ProgramRef program, Map<String, String> rankEnvironment) {
        this.assignment = assignment;
        this.rankEnvironment = rankEnvironment;
        this.program = program;
        this.logs = logs;
        this.logFile = logFile;
        this.source = assignment == null ? null : source(assignment);
        this.standby = assignment == null;
        this.controlFile = controlFile;
        this.process = process;
        this.tailLines = tailLines;
        this.clock = clock;
        this.lastProgress = clock.instant();
        String name = assignment == null ? "trainer-standby"
                : "trainer-" + assignment.rank() + "-g" + assignment.generation();
        this.stdoutPump = pump(name + "-stdout", process.getInputStream(), line -> onStdout(line, reports));
        this.stderrPump = pump(name + "-stderr", process.getErrorStream(), this::onStderr);
    }

    private static ReportBuffer.Source source(Assignment a) {
        return new ReportBuffer.Source(a.runId(), a.rank(), a.generation());
    }

    /** The rank-specific environment it was started with ({@link TrainerEnvironment#ofRank}). */
    Map<String, String> rankEnvironment() {
        return rankEnvironment;
    }

    /**
     * @param assignment  the generation to run, or null for a standby trainer (a hot spare)
     * @param logDir      where the trainer's log file goes ({@link #logFileName}); null keeps only the tail
     * @param faultFile   where the trainer reads test faults (chaos), named in its environment
     * @param controlFile the control channel offered to the trainer ({@link TrainerControl#ENV}), or null
     * @param rankEnvironment what its environment says about its rank ({@link TrainerEnvironment#ofRank}; for a
     *                    standby, that of the rank it expects), fixed once the JVM runs
     */
    static TrainerProcess launch(Assignment assignment, List<String> command, java.time.Duration grace,
                                 int tailLines, Clock clock, ReportBuffer reports, LogBuffer logs, Path logDir,
                                 Path faultFile, Path controlFile, ProgramRef program,
                                 Map<String, String> rankEnvironment)
            throws IOException {
        List<String> argv = new ArrayList<>(List.of("setsid", "/bin/sh", "-c", WRAPPER, "steadyrun-trainer",
                Long.toString(Math.max(1, grace.toMillis() / 100))));
        argv.addAll(command);
        BufferedWriter logFile = null;
        if (logDir != null) {
            Files.createDirectories(logDir);
            // numbered too: a node's local ranks start their spares in the same millisecond
            String name = assignment == null ? "trainer-standby-" + clock.millis() + "-" + STANDBYS.incrementAndGet()
                    + ".log" : logFileName(assignment);
            logFile = Files.newBufferedWriter(logDir.resolve(name), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        ProcessBuilder builder = new ProcessBuilder(argv);
        builder.environment().clear(); // the agent's secrets stay with the agent
        builder.environment().putAll(TrainerEnvironment.of(System.getenv()));
        builder.environment().putAll(rankEnvironment);
        Process p;
        try {
            // in the environment, not the command line: any local user can read another process's arguments
            if (assignment != null && assignment.ringSecret() != null) {
                builder.environment().put(RingSecret.ENV, assignment.ringSecret().value());
            }
            builder.environment().put(ChaosFault.FAULT_FILE_ENV, faultFile.toString());
            if (controlFile != null) {
                Files.deleteIfExists(controlFile);
                // owner-only: an assignment written there carries the ring secret
                Files.createFile(controlFile, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rw-------")));
                builder.environment().put(TrainerControl.ENV, controlFile.toString());
            }
            p = builder.start();
        } catch (IOException | RuntimeException e) {
            if (logFile != null) {
                logFile.close();
            }
            throw e;
        }
        return new TrainerProcess(assignment, p, tailLines, clock, reports, logs, logFile, controlFile, program,
                rankEnvironment);
    }

    /** One file per run, rank and generation: a generation is launched at most once on a node. */
    static String logFileName(Assignment a) {
        return "trainer-" + a.runId() + "-rank" + a.rank() + "-gen" + a.generation() + ".log";
    }

    private static Thread pump(String name, InputStream in, Consumer<String> onLine) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    onLine.accept(line);
                }
            } catch (IOException e) {
                log.debug("{} closed: {}", name, e.toString());
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void onStdout(String line, ReportBuffer reports) {
        // metric lines first: they are nearly every line, and parsed once; a control reply is no metric line
        TrainerLine parsed = TrainerLines.parse(line).orElse(null);
        if (parsed == null) {
            TrainerControl.Reply reply = controlFile == null ? null : TrainerControl.parseReply(line).orElse(null);
            if (reply instanceof TrainerControl.Hello) {
                controllable = true;
            } else if (reply instanceof TrainerControl.Left left) {
                awaitStderr(left.generation());
                onLeft.accept(left);
            } else {
                addTail(line);
                ship(TrainerLogBatch.Stream.STDOUT, line);
            }
            return;
        }
        ReportBuffer.Source to = source;
        if (standby || to == null) {
            // between generations nothing may speak for one: the agent drops it, as the orchestrator would
            log.warn("trainer printed a {} line while it runs no generation: dropped", parsed.type());
            return;
        }
        if (parsed instanceof StepMetrics step) {
            lastStep = step.step();
            lastProgress = clock.instant();
        }
        reports.add(to, parsed);
    }

    /**
     * Until the stderr pump has read the trainer's {@link TrainerControl#LEFT_ON_STDERR} line of {@code generation}
     * (at most 2 s): the generation's log tail is then complete.
     */
    private void awaitStderr(long generation) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        synchronized (tail) {
            while (stderrLeft < generation && System.nanoTime() < deadline) {
                try {
                    tail.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Who hears this trainer's {@link TrainerControl.Left} lines (the supervisor), on the stdout pump's thread. */
    void onLeft(Consumer<TrainerControl.Left> handler) {
        this.onLeft = handler;
    }

    /** Asks the trainer to leave its generation at the next step boundary and stay up. */
    void requestLeave() throws IOException {
        leaving = true;
        send(new TrainerControl.Leave(assignment.generation()));
    }

    /** The trainer acknowledged leaving its generation: from now on its lines belong to none. */
    void left() {
        standby = true;
        leaving = false;
    }

    /**
     * Hands this standby trainer its next generation: {@code args} are the arguments a cold launch would get. From
     * here its lines are that generation's, and the hang watchdog counts from now.
     */
    void handOver(Assignment next, List<String> args) throws IOException {
        assignment = next;
        source = source(next);
        lastStep = -1;
        lastProgress = clock.instant();
        threadDump = null;
        synchronized (logSeq) { // the live log numbers each generation's lines from 0
            logSeq[0] = 0;
        }
        synchronized (tail) { // an exit reports its own generation's tail (the orchestrator reads peer checks in it)
            tail.clear();
        }
        standby = false;
        leaving = false;
        send(new TrainerControl.Assign(args, next.ringSecret() == null ? null : next.ringSecret().value()));
    }

    private void send(TrainerControl.Message message) throws IOException {
        // one write of a whole line: the trainer reads a line only once its newline is there
        Files.writeString(controlFile, TrainerControl.write(message) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.APPEND);
    }

    boolean controllable() {
        return controllable;
    }

    boolean standby() {
        return standby;
    }

    boolean leaving() {
        return leaving;
    }

    Path controlFile() {
        return controlFile;
    }

    private void onStderr(String line) {
        if (trainerPid == null && line.startsWith(PID_LINE)) {
            trainerPid = Long.parseLong(line.substring(PID_LINE.length()).trim());
            return;
        }
        if (controlFile != null && line.startsWith(TrainerControl.LEFT_ON_STDERR)) {
            synchronized (tail) {
                try {
                    stderrLeft = Long.parseLong(line.substring(TrainerControl.LEFT_ON_STDERR.length()).trim());
                } catch (NumberFormatException e) {
                    log.debug("unreadable line {}", line);
                }
                tail.notifyAll();
            }
        }
        addTail(line);
        ship(TrainerLogBatch.Stream.STDERR, line);
        log.debug("[trainer {}] {}", name(), line);
    }

    /** Into the live log's bounded buffer: never waits, so a slow orchestrator never blocks the trainer's pipes. */
    private void ship(TrainerLogBatch.Stream stream, String line) {
        ReportBuffer.Source source = this.source;
        if (source == null) {
            return; // a spare's standby: its log file and tail keep it
        }
        synchronized (logSeq) { // numbers enter the buffer in order: the orchestrator skips a number it already has
            logs.add(source, stream, line, logSeq[0]++, clock.instant());
        }
    }

    private void addTail(String line) {
        synchronized (tail) {
            tail.addLast(line);
            while (tail.size() > tailLines) {
                tail.removeFirst();
            }
            if (logFile != null) {
                try {
                    logFile.write(line);
                    logFile.newLine();
                    logFile.flush();
                } catch (IOException e) {
                    log.debug("writing the trainer log failed: {}", e.toString());
                }
            }
        }
    }

    /** For the logs: the generation it runs, or that it stands by. */
    String name() {
        Assignment a = assignment;
        return a == null ? "standby" : "generation " + a.generation() + (standby ? " (left)" : "");
    }

    List<String> tail() {
        synchronized (tail) {
            return List.copyOf(tail);
        }
    }

    /** Asks the wrapper to stop the trainer: SIGTERM to its group, SIGKILL after the grace period. */
    void requestStop() {
        stopRequested = true;
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            log.warn("closing the trainer's control pipe failed", e);
        }
    }

    /** Last resort when the wrapper itself did not finish the job. */
    void killEverything() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    /** Waits for the pumps so the log tail is complete (a grandchild may hold the pipes a little longer). */
    void drainPumps(long millis) throws InterruptedException {
        try {
            stdoutPump.join(millis);
            stderrPump.join(millis);
        } finally { // also when interrupted: the file is closed and a late line skipped
            synchronized (tail) {
                if (logFile != null) {
                    try {
                        logFile.close();
                    } catch (IOException e) {
                        log.debug("closing the trainer log failed: {}", e.toString());
                    }
                    logFile = null;
                }
            }
        }
    }

    Process process() {
        return process;
    }

    /** The trainer's own pid (the wrapper's child), or the wrapper's until the wrapper announced it. */
    long trainerPid() {
        Long pid = trainerPid;
        return pid != null ? pid : process.pid();
    }

    long lastStep() {
        return lastStep;
    }

    Instant lastProgress() {
        return lastProgress;
    }

    boolean stopRequested() {
        return stopRequested;
    }

    /** Completes once the supervisor has recorded this trainer's exit. */
    CompletableFuture<Void> exitHandled() {
        return exitHandled;
    }

    void exitHandled(CompletableFuture<Void> done) {
        this.exitHandled = done;
    }

    String threadDump() {
        return threadDump;
    }

    void threadDump(String dump) {
        this.threadDump = dump;
    }
}
