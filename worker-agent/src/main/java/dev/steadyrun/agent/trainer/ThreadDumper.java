package dev.steadyrun.agent.trainer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.steadyrun.protocol.TrainerStatus;

/**
 * Captures a hung trainer's threads with {@code jcmd <pid> Thread.print} before the watchdog kills it. A JVM
 * that is frozen (SIGSTOP, or stuck in native code with safepoints blocked) does not answer the attach request;
 * then the answer says why there is no dump instead of holding the kill back.
 */
public final class ThreadDumper {

    /** Enough for the report, small enough for a heartbeat. */
    static final int MAX_CHARS = 200_000;
    /** How every answer without a dump begins (the orchestrator files those apart from real dumps). */
    static final String UNAVAILABLE = TrainerStatus.NO_THREAD_DUMP;

    private final String jcmd;
    private final Duration timeout;

    public ThreadDumper(String jcmd, Duration timeout) {
        this.jcmd = jcmd;
        this.timeout = timeout;
    }

    /** The default: {@code jcmd} next to the running JVM, else from the PATH. */
    public static ThreadDumper forThisJvm(Duration timeout) {
        Path sibling = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        return new ThreadDumper(Files.isExecutable(sibling) ? sibling.toString() : "jcmd", timeout);
    }

    public String dump(long pid) {
        Process p;
        try {
            p = new ProcessBuilder(jcmd, Long.toString(pid), "Thread.print").redirectErrorStream(true).start();
        } catch (IOException e) {
            return UNAVAILABLE + "cannot run " + jcmd + ": " + e.getMessage();
        }
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                return UNAVAILABLE + jcmd + " did not answer within " + timeout.toSeconds()
                        + " s; trainer process state: " + processState(pid);
            }
            String text = output.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (p.exitValue() != 0) {
                return UNAVAILABLE + jcmd + " exited " + p.exitValue() + ": " + truncate(text.strip());
            }
            return truncate(text);
        } catch (Exception e) {
            p.destroyForcibly();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return UNAVAILABLE + e;
        }
    }

    /** The state letter from {@code /proc/<pid>/stat}, e.g. {@code T (stopped)}. */
    static String processState(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            String meaning = switch (state) {
                case 'T', 't' -> "stopped (SIGSTOP or traced)";
                case 'D' -> "uninterruptible sleep (waiting on I/O or a device)";
                case 'Z' -> "zombie";
                case 'R' -> "running";
                case 'S' -> "sleeping";
                default -> "unknown";
            };
            return state + " (" + meaning + ")";
        } catch (IOException | RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private static String truncate(String s) {
        return s.length() <= MAX_CHARS ? s : s.substring(0, MAX_CHARS) + "\n… (truncated)";
    }
}
