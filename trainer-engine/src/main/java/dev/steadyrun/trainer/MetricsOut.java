package dev.steadyrun.trainer;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;

/**
 * The trainer's stdout: one JSON line per step and per written checkpoint (the agent parses them), or
 * human-readable lines when stdout is a terminal. Everything else goes to stderr: {@link #claimStdout()} points
 * {@code System.out} at stderr, because ND4J/SameDiff print diagnostics on stdout.
 */
final class MetricsOut {

    private final PrintStream out;
    private final boolean human;

    private MetricsOut(PrintStream out, boolean human) {
        this.out = out;
        this.human = human;
    }

    /** Takes the process's stdout for metrics and results; System.out then writes to stderr. */
    static MetricsOut claimStdout(boolean forceJson) {
        PrintStream stdout = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        return new MetricsOut(stdout, !forceJson && System.console() != null);
    }

    synchronized void emit(TrainerLine line) {
        out.println(human ? humanReadable(line) : TrainerLines.write(line));
    }

    /** A control-channel reply to the agent ({@link TrainerControl}), in order with the metric lines. */
    synchronized void reply(TrainerControl.Reply reply) {
        out.println(TrainerControl.write(reply));
    }

    /** A plain result line (eval, generate). */
    synchronized void println(String text) {
        out.println(text);
    }

    static String humanReadable(TrainerLine line) {
        if (line instanceof StepMetrics s) {
            return String.format(Locale.ROOT, "step %6d  loss %.4f  |g| %.3f  lr %.3e  scale %s%s  %.0f tok/s  %.0f ms  rss %d MB",
                    s.step(), s.loss(), s.gradNorm(), s.lr(), s.lossScale(), s.overflow() ? " OVERFLOW (skipped)" : "",
                    s.tokensPerSec(), s.stepTimeMs(), s.rssBytes() >> 20);
        }
        CheckpointWritten c = (CheckpointWritten) line;
        return String.format(Locale.ROOT, "checkpoint step %d -> %s (%d MB, loss scale %s, manifest %s)",
                c.step(), c.path(), c.bytes() >> 20, c.lossScale(), c.manifestSha256());
    }
}
