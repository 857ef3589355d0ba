package dev.steadyrun.agent.trainer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;
import dev.steadyrun.protocol.TrainerProtocol;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs a training program the way the agent does — {@link TrainerCommand}'s command line, {@link TrainerEnvironment}'s
 * environment — and checks it against docs/trainer-protocol.md (section 6 lists the checks): the lines it prints, its
 * checkpoints, a restore with knobs, knobs kept across a later restore, SIGTERM, and the refusals' exit codes.
 *
 * <pre>java -cp &lt;worker-agent classpath&gt; dev.steadyrun.agent.trainer.ConformanceCheck
 *      [--set key=value]... [--work DIR] [--timeout-seconds N] -- &lt;trainer command&gt;</pre>
 */
public final class ConformanceCheck {

    /** The knobs of the restore check: each has an effect the step lines show. */
    static final RestartKnobs KNOBS = new RestartKnobs(0.5, null, 0.3, true, 0, null);
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    /** One check: what was checked, whether it held, and what was seen. */
    public record Finding(String check, boolean passed, String seen) {
        @Override
        public String toString() {
            return (passed ? "PASS " : "FAIL ") + check + (seen.isEmpty() ? "" : ": " + seen);
        }
    }

    /** What one launch did. {@code problems}: its stdout lines that break the protocol. */
    record Launch(int exitCode, List<StepMetrics> steps, List<CheckpointWritten> checkpoints, List<String> problems,
                  Path stderr) {
        StepMetrics step(long n) {
            return steps.stream().filter(s -> s.step() == n).findFirst().orElse(null);
        }
    }

    private final List<String> command;
    private final Map<String, String> config;
    private final Path work;
    private final Duration timeout;
    private final UUID runId = UUID.randomUUID();
    private final List<Finding> findings = new ArrayList<>();
    private long generation;

    /**
     * @param command the program, as the agent's {@code trainer-command}
     * @param config  the {@code --set} keys: enough steps (4 or more) and checkpoints (2 before the last step)
     * @param work    an empty directory for the checkpoints and the programs' stderr
     * @param timeout the longest one launch may take
     */
    public ConformanceCheck(List<String> command, Map<String, String> config, Path work, Duration timeout) {
        this.command = List.copyOf(command);
        this.config = Map.copyOf(config);
        this.work = work.toAbsolutePath();
        this.timeout = timeout;
    }

    /**
     * The command that runs {@code main} in a new JVM on this JVM's class path: how a test checks a program it has
     * on its class path. Small heap and the quick compiler, because the check starts the program several times.
     */
    public static List<String> javaProgram(Class<?> main) {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), main.getName());
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> config = new LinkedHashMap<>();
        Path work = null;
        Duration timeout = Duration.ofMinutes(5);
        int i = 0;
        for (; i < args.length && !args[i].equals("--"); i += 2) {
            if (i + 1 >= args.length) {
                usage(args[i] + ": missing value");
            }
            switch (args[i]) {
                case "--set" -> {
                    int eq = args[i + 1].indexOf('=');
                    if (eq <= 0) {
                        usage("--set expects key=value, got '" + args[i + 1] + "'");
                    }
                    config.put(args[i + 1].substring(0, eq), args[i + 1].substring(eq + 1));
                }
                case "--work" -> work = Path.of(args[i + 1]);
                case "--timeout-seconds" -> timeout = Duration.ofSeconds(Long.parseLong(args[i + 1]));
                default -> usage("unknown option " + args[i]);
            }
        }
        if (i + 1 >= args.length) {
            usage("no trainer command after --");
        }
        List<String> command = List.of(args).subList(i + 1, args.length);
        if (work == null) {
            work = Files.createTempDirectory("steadyrun-conformance-");
        }
        List<Finding> result = new ConformanceCheck(command, config, work, timeout).run();
        result.forEach(System.out::println);
        long failed = result.stream().filter(f -> !f.passed()).count();
        System.out.println("trainer protocol " + TrainerProtocol.VERSION + ": " + (result.size() - failed)
                + " passed, " + failed + " failed (work directory " + work + ")");
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void usage(String error) {
        System.err.println("error: " + error);
        System.err.println("usage: ConformanceCheck [--set key=value]... [--work DIR] [--timeout-seconds N]"
                + " -- <trainer command>");
        System.exit(ExitCodes.BAD_CONFIG);
    }

    /** Runs every check in order; a check that cannot run because an earlier one failed is not run. */
    public List<Finding> run() throws IOException, InterruptedException {
        Files.createDirectories(work);
        Path checkpoints = work.resolve("checkpoints");

        Launch fresh = launch(assignment(checkpoints, null, null, RestartKnobs.NONE), config, List.of(), false);
        wellFormed("fresh start", fresh, ExitCodes.OK, 1);
        List<CheckpointWritten> written = fresh.checkpoints();
        long last = fresh.steps().isEmpty() ? 0 : fresh.steps().get(fresh.steps().size() - 1).step();
        check("fresh start: at least 4 steps and 2 checkpoints before the last step", last >= 4
                && written.size() >= 2 && written.get(1).step() < last, "steps to " + last + ", checkpoints at "
                + written.stream().map(CheckpointWritten::step).toList());
        for (CheckpointWritten c : written) {
            check("checkpoint " + c.step() + " is at a printed step, in a directory, with a SHA-256",
                    fresh.step(c.step()) != null && Files.isDirectory(Path.of(c.path()))
                            && SHA256.matcher(c.manifestSha256()).matches(),
                    c.path() + " " + c.manifestSha256());
        }
        if (!allPassed() || written.size() < 2) {
            return List.copyOf(findings);
        }
        CheckpointWritten first = written.get(0);

        Launch knobbed = launch(assignment(checkpoints, first.path(), first.manifestSha256(), KNOBS), config,
                List.of(), false);
        wellFormed("restore with knobs " + String.join(" ", KNOBS.toArgs()), knobbed, ExitCodes.OK, first.step() + 1);
        StepMetrics after = knobbed.step(first.step() + 1);
        StepMetrics straight = fresh.step(first.step() + 1);
        if (after != null && straight != null) {
            check("the restored run's first step continues the fresh run (tokensSeen, loss, gradNorm)",
                    after.tokensSeen() == straight.tokensSeen() && same(after.loss(), straight.loss())
                            && same(after.gradNorm(), straight.gradNorm()),
                    "restored " + numbers(after) + ", fresh " + numbers(straight));
            knobsInForce("lrMultiplier=0.5 and clipNorm=0.3 applied", after, straight);
            check("resetLossScaler: the loss scale is the initial one again",
                    same(after.lossScale(), fresh.steps().get(0).lossScale()),
                    "restored " + after.lossScale() + ", the fresh run's first step " + fresh.steps().get(0).lossScale());
        }
        CheckpointWritten second = knobbed.checkpoints().stream()
                .filter(c -> c.step() > first.step() && c.step() < last).findFirst().orElse(null);
        check("the restored run wrote a checkpoint before the last step", second != null,
                "checkpoints at " + knobbed.checkpoints().stream().map(CheckpointWritten::step).toList());
        if (second != null) {
            Launch later = launch(assignment(checkpoints, second.path(), second.manifestSha256(), RestartKnobs.NONE),
                    config, List.of(), false);
            wellFormed("a later restore without knobs", later, ExitCodes.OK, second.step() + 1);
            StepMetrics next = later.step(second.step() + 1);
            if (next != null && fresh.step(second.step() + 1) != null) {
                knobsInForce("the knobs were recorded: still in force after a later restore", next,
                        fresh.step(second.step() + 1));
            }
        }

        Map<String, String> endless = new LinkedHashMap<>(config);
        endless.put("maxSteps", "1000000000");
        Launch stopped = launch(assignment(work.resolve("sigterm"), null, null, RestartKnobs.NONE), endless,
                List.of(), true);
        check("SIGTERM after a step: exit " + ExitCodes.TERMINATED, stopped.exitCode() == ExitCodes.TERMINATED,
                exitSeen(stopped));

        refusals(first);
        return List.copyOf(findings);
    }

    private void refusals(CheckpointWritten c) throws IOException, InterruptedException {
        String wrongSha = (c.manifestSha256().charAt(0) == '0' ? "1" : "0") + c.manifestSha256().substring(1);
        Launch wrong = launch(assignment(work.resolve("refuse-sha"), c.path(), wrongSha, RestartKnobs.NONE), config,
                List.of(), false);
        check("a wrong --restore-sha256: exit " + ExitCodes.CORRUPT_CHECKPOINT,
                wrong.exitCode() == ExitCodes.CORRUPT_CHECKPOINT, exitSeen(wrong));

        Path copy = work.resolve("refuse-corrupt").resolve(Path.of(c.path()).getFileName());
        copyTree(Path.of(c.path()), copy);
        Path flipped = largestFile(copy);
        flipByte(flipped);
        Launch corrupt = launch(assignment(work.resolve("refuse-corrupt"), copy.toString(), c.manifestSha256(),
                RestartKnobs.NONE), config, List.of(), false);
        check("one byte flipped in " + copy.relativize(flipped) + ": exit " + ExitCodes.CORRUPT_CHECKPOINT,
                corrupt.exitCode() == ExitCodes.CORRUPT_CHECKPOINT, exitSeen(corrupt));

        Path missing = work.resolve("refuse-missing").resolve(Path.of(c.path()).getFileName());
        Launch gone = launch(assignment(work.resolve("refuse-missing"), missing.toString(), c.manifestSha256(),
                RestartKnobs.NONE), config, List.of(), false);
        check("a restore directory that does not exist: exit " + ExitCodes.CHECKPOINT_UNAVAILABLE,
                gone.exitCode() == ExitCodes.CHECKPOINT_UNAVAILABLE, exitSeen(gone));

        // RestartKnobs refuses an out-of-bounds value, so this one is written by hand, as a broken agent would
        Launch badKnob = launch(assignment(work.resolve("refuse-knob"), null, null, RestartKnobs.NONE), config,
                List.of("--knob", "lrMultiplier=99"), false);
        check("--knob lrMultiplier=99 (out of bounds): exit " + ExitCodes.BAD_CONFIG,
                badKnob.exitCode() == ExitCodes.BAD_CONFIG, exitSeen(badKnob));
    }

    private void knobsInForce(String what, StepMetrics knobbed, StepMetrics straight) {
        check(what + ": lr is half the fresh run's", Math.abs(knobbed.lr() - 0.5 * straight.lr())
                <= 1e-9 * Math.abs(straight.lr()), "lr " + knobbed.lr() + ", fresh " + straight.lr());
        check(what + ": clipNorm is 0.3", knobbed.clipNorm() != null && same(knobbed.clipNorm(), 0.3),
                "clipNorm " + knobbed.clipNorm() + " (the step line must carry it)");
    }

    /** Exit code, protocol lines and step numbering of one launch. */
    private void wellFormed(String name, Launch l, int exitCode, long firstStep) {
        check(name + ": exit " + exitCode, l.exitCode() == exitCode, exitSeen(l));
        check(name + ": every protocol line carries its required members", l.problems().isEmpty(),
                String.join("; ", l.problems()));
        List<Long> steps = l.steps().stream().map(StepMetrics::step).toList();
        boolean consecutive = !steps.isEmpty() && steps.get(0) == firstStep;
        for (int i = 1; consecutive && i < steps.size(); i++) {
            consecutive = steps.get(i) == steps.get(i - 1) + 1;
        }
        check(name + ": steps " + firstStep + ", " + (firstStep + 1) + ", … without a gap", consecutive,
                steps.size() > 12 ? steps.subList(0, 12) + "…" : steps.toString());
    }

    private Assignment assignment(Path checkpointDir, String restore, String sha256, RestartKnobs knobs) {
        generation++;
        return new Assignment(runId, 0, 1, generation, config, restore, sha256, checkpointDir.toString(), knobs,
                null, 0, null);
    }

    /**
     * Starts the program for {@code a} with {@code config} as its {@code --set} keys and reads its stdout to the end.
     *
     * @param sigterm send SIGTERM once the first step line arrived
     */
    private Launch launch(Assignment a, Map<String, String> config, List<String> extraArgs, boolean sigterm)
            throws IOException, InterruptedException {
        Assignment withConfig = new Assignment(a.runId(), a.rank(), a.worldSize(), a.generation(), config,
                a.restoreFrom(), a.restoreSha256(), a.checkpointDir(), a.knobs(), a.rendezvous(),
                a.hangTimeoutSeconds(), a.ringSecret());
        Files.createDirectories(Path.of(a.checkpointDir()));
        List<String> argv = new ArrayList<>(TrainerCommand.argv(command, withConfig, work));
        argv.addAll(extraArgs);
        Path stderr = work.resolve("generation-" + a.generation() + ".stderr");
        ProcessBuilder builder = new ProcessBuilder(argv).redirectError(stderr.toFile());
        builder.environment().clear();
        builder.environment().putAll(TrainerEnvironment.of(System.getenv()));
        Process p = builder.start();
        p.getOutputStream().close();
        List<StepMetrics> steps = new ArrayList<>();
        List<CheckpointWritten> checkpoints = new ArrayList<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        Thread killer = new Thread(() -> {
            try {
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    problems.add("still running after " + timeout + ": killed");
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "conformance-timeout");
        killer.setDaemon(true);
        killer.start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                TrainerLine parsed = read(line, problems);
                if (parsed instanceof StepMetrics s) {
                    steps.add(s);
                    if (sigterm && steps.size() == 1) {
                        // SIGTERM, as the agent's wrapper sends it (Process.destroy would also close its stdout)
                        p.toHandle().destroy();
                    }
                } else if (parsed instanceof CheckpointWritten c) {
                    checkpoints.add(c);
                }
            }
        }
        int code = p.waitFor();
        killer.interrupt();
        return new Launch(code, List.copyOf(steps), List.copyOf(checkpoints), List.copyOf(problems), stderr);
    }

    /** A protocol line, or null for a log line; a protocol line that misses a required member is a problem. */
    static TrainerLine read(String line, List<String> problems) {
        if (line.isEmpty() || line.charAt(0) != '{') {
            return null;
        }
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JacksonException e) {
            return null; // log output that happens to start with a brace
        }
        String type = node.path("type").asString("");
        List<String> required = switch (type) {
            case StepMetrics.TYPE -> TrainerProtocol.STEP_FIELDS;
            case CheckpointWritten.TYPE -> TrainerProtocol.CHECKPOINT_FIELDS;
            default -> List.of();
        };
        if (required.isEmpty()) {
            return null;
        }
        List<String> absent = required.stream().filter(f -> !node.has(f) || node.get(f).isNull()).toList();
        TrainerLine parsed = TrainerLines.parse(line).orElse(null);
        if (!absent.isEmpty() || parsed == null) {
            problems.add((absent.isEmpty() ? "does not parse" : "lacks " + absent) + ": " + abbreviate(line));
            return null;
        }
        return parsed;
    }

    private static String abbreviate(String line) {
        return line.length() > 200 ? line.substring(0, 200) + "…" : line;
    }

    private void check(String name, boolean passed, String seen) {
        findings.add(new Finding(name, passed, seen));
    }

    private boolean allPassed() {
        return findings.stream().allMatch(Finding::passed);
    }

    private static boolean same(double a, double b) {
        return Double.compare(a, b) == 0;
    }

    private static String numbers(StepMetrics s) {
        return "tokensSeen " + s.tokensSeen() + " loss " + s.loss() + " gradNorm " + s.gradNorm();
    }

    private static String exitSeen(Launch l) {
        String tail = "";
        try {
            List<String> lines = Files.readAllLines(l.stderr(), StandardCharsets.UTF_8);
            tail = lines.isEmpty() ? "" : "; stderr ends: " + abbreviate(lines.get(lines.size() - 1));
        } catch (IOException e) {
            tail = "; stderr unreadable: " + e;
        }
        return "exit " + l.exitCode() + (l.problems().isEmpty() ? "" : "; " + l.problems()) + tail;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : all.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    /** The checkpoint's largest file: its tensors, not its manifest. */
    private static Path largestFile(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).max(Comparator.comparingLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return -1;
                }
            })).orElseThrow(() -> new IOException("no file in the checkpoint " + dir));
        }
    }

    private static void flipByte(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long at = ch.size() / 2;
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x01));
            b.rewind();
            ch.write(b, at);
        }
    }
}
