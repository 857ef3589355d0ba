package dev.steadyrun.agent.testing;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.protocol.TrainerLines;

/**
 * TEST TOOL — a real child JVM that takes the trainer-engine's command line ({@code train --set k=v … }) and
 * behaves as scripted by its {@code --set} entries, for the supervisor's unit tests (the end-to-end tests run
 * the real trainer-engine). Keys: {@code maxSteps}, {@code stepMillis}, {@code exitCode} (at maxSteps),
 * {@code hangAtStep} (stop printing and block), {@code ignoreTerm} (survive SIGTERM), {@code checkpointInterval},
 * {@code announceControl} (declare the control channel with a hello, then never answer it: a trainer that does not
 * acknowledge a leave). Any command but {@code train} (the hot spare's {@code standby}) is refused with exit 2, as a
 * program that does not know it would.
 */
public final class ScriptedTrainer {

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || !args[0].equals("train")) {
            System.err.println("scripted trainer: unknown command " + (args.length == 0 ? "(none)" : args[0]));
            System.exit(2);
        }
        Map<String, String> set = new HashMap<>();
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals("--set")) {
                String[] kv = args[i + 1].split("=", 2);
                set.put(kv[0], kv[1]);
            }
        }
        System.err.println("scripted trainer args: " + String.join(" ", args) + " (fault file "
                + System.getenv(ChaosFault.FAULT_FILE_ENV) + ")");
        if (Boolean.parseBoolean(set.getOrDefault("announceControl", "false"))
                && System.getenv(TrainerControl.ENV) != null) {
            System.out.println(TrainerControl.write(new TrainerControl.Hello()));
        }
        long maxSteps = Long.parseLong(set.getOrDefault("maxSteps", "1000000"));
        long stepMillis = Long.parseLong(set.getOrDefault("stepMillis", "50"));
        long hangAt = Long.parseLong(set.getOrDefault("hangAtStep", "-1"));
        long ckpt = Long.parseLong(set.getOrDefault("checkpointInterval", "0"));
        if (Boolean.parseBoolean(set.getOrDefault("ignoreTerm", "false"))) {
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> System.err.println("ignoring SIGTERM"));
        }
        for (long step = 1; step <= maxSteps; step++) {
            if (step == hangAt) {
                hangHere();
            }
            Thread.sleep(stepMillis);
            System.out.println(TrainerLines.write(new StepMetrics(step, step * 100, 10.0 / step, 1.0, 1.0, false,
                    1e-4, 1000, stepMillis, 1, List.of())));
            if (ckpt > 0 && step % ckpt == 0) {
                System.out.println(TrainerLines.write(new CheckpointWritten(step, step * 100, "/tmp/step-" + step,
                        1.0, 10.0 / step, "sha", 1)));
            }
            System.err.println("scripted trainer step " + step);
        }
        System.exit(Integer.parseInt(set.getOrDefault("exitCode", "0")));
    }

    private static void hangHere() throws InterruptedException {
        System.err.println("scripted trainer hangs now");
        Thread.sleep(Long.MAX_VALUE);
    }

    /** The command that starts this class with the test JVM's classpath. */
    public static List<String> command() {
        return List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), ScriptedTrainer.class.getName());
    }
}
