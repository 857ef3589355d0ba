package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLines;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;

/** The CLI as the worker-agent launches it: a real child JVM, its exit code, its stdout lines and its stderr. */
class MainProcessTest {

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    private static List<String> command(Path checkpoints, String... extra) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "train",
                "--checkpoint-dir", checkpoints.toString()));
        TrainerTest.small().forEach((k, v) -> {
            cmd.add("--set");
            cmd.add(k + "=" + v);
        });
        cmd.addAll(List.of(extra));
        return cmd;
    }

    private static Process start(List<String> cmd, Path stderr) throws Exception {
        return new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
    }

    @Test
    void badConfigExitsTwoNamingTheKey(@TempDir Path dir) throws Exception {
        Process p = start(command(dir.resolve("ck"), "--set", "dropout=2"), dir.resolve("err"));
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(Files.readString(dir.resolve("err"))).contains("dropout: must be in [0, 1), was 2.0");
    }

    @Test
    void corruptCheckpointExitsThree(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("ck");
        TrainerTest.train(ck, TrainerTest.small("maxSteps", "1"), null, null);
        Path checkpoint = ck.resolve(CheckpointStore.dirName(1));
        Path victim;
        try (Stream<Path> files = Files.list(checkpoint)) {
            victim = files.filter(f -> f.getFileName().toString().equals(CheckpointPaths.shardFile("adam_v", 0, 0)))
                    .findFirst().orElseThrow();
        }
        TrainerTest.flipAByte(victim);
        Process p = start(command(ck, "--set", "maxSteps=2", "--restore", checkpoint.toString()), dir.resolve("err"));
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ExitCodes.CORRUPT_CHECKPOINT);
        assertThat(Files.readString(dir.resolve("err"))).contains("corrupt checkpoint")
                .contains(victim.getFileName().toString());
    }

    /**
     * The agent passes the manifest SHA-256 the orchestrator recorded: a checkpoint whose manifest differs is refused
     * with exit 3 before anything is loaded, however consistent it is in itself.
     */
    @Test
    void aManifestOtherThanTheRecordedOneExitsThree(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("ck");
        TrainerTest.train(ck, TrainerTest.small("maxSteps", "1"), null, null);
        Path checkpoint = ck.resolve(CheckpointStore.dirName(1));
        String recorded = CheckpointStore.manifestSha256(checkpoint);
        TrainerTest.replaceArraySelfConsistently(checkpoint, CheckpointPaths.shardFile("adam_v", 0, 0));
        Process p = start(command(ck, "--set", "maxSteps=2", "--restore", checkpoint.toString(),
                "--restore-sha256", recorded), dir.resolve("err"));
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ExitCodes.CORRUPT_CHECKPOINT);
        assertThat(Files.readString(dir.resolve("err"))).contains("corrupt checkpoint").contains("manifest.json")
                .contains(recorded);
    }

    /** A checkpoint that is not there (a volume this node does not see) is unavailable, exit 7: not proof of corruption. */
    @Test
    void aCheckpointThatCannotBeReadExitsSeven(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("ck");
        TrainerTest.train(ck, TrainerTest.small("maxSteps", "1"), null, null);
        Path checkpoint = ck.resolve(CheckpointStore.dirName(1));
        Files.delete(checkpoint.resolve("manifest.json"));
        Process p = start(command(ck, "--set", "maxSteps=2", "--restore", checkpoint.toString()), dir.resolve("err"));
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ExitCodes.CHECKPOINT_UNAVAILABLE);
        assertThat(Files.readString(dir.resolve("err"))).contains("unavailable checkpoint").contains("manifest.json");
    }

    /**
     * The hang knob (a test tool) stops the step loop after step 1 while the JVM stays responsive: SIGTERM then
     * ends it with 143. Every stdout line is a metrics line the agent can parse.
     */
    @Test
    void hangsOnPurposeAndExits143OnSigterm(@TempDir Path dir) throws Exception {
        Process p = start(command(dir.resolve("ck"), "--set", "maxSteps=50", "--set", "debugHangAtStep=1"),
                dir.resolve("err"));
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            lines.add(out.readLine());
            assertThat(TrainerLines.parse(lines.get(0))).get().isInstanceOf(StepMetrics.class);
            Thread.sleep(2000);
            assertThat(p.isAlive()).isTrue();
            p.toHandle().destroy();   // SIGTERM (Process.destroy() would also close our end of its stdout)
            for (String l = out.readLine(); l != null; l = out.readLine()) {
                lines.add(l);
            }
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ExitCodes.TERMINATED);
        assertThat(lines).hasSize(1);
        assertThat(Files.readString(dir.resolve("err"))).contains("debugHangAtStep=1");
    }

    private static String runCli(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = start(cmd, dir.resolve("err-" + args[0]));
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s: %s", args[0], Files.readString(dir.resolve("err-" + args[0])))
                .isEqualTo(ExitCodes.OK);
        return stdout.strip();
    }

    /** eval and generate read a checkpoint the trainer wrote: a finite loss whose perplexity is its exp; seeded sampling. */
    @Test
    void evalAndGenerateReadACheckpoint(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("ck");
        TrainerTest.train(ck, TrainerTest.small("maxSteps", "2"), null, null);
        String checkpoint = ck.resolve(CheckpointStore.dirName(2)).toString();

        var eval = tools.jackson.databind.json.JsonMapper.builder().build()
                .readTree(runCli(dir, "eval", "--checkpoint", checkpoint, "--batches", "2", "--json"));
        assertThat(eval.path("type").asString()).isEqualTo("eval");
        assertThat(eval.path("step").asLong()).isEqualTo(2);
        double loss = eval.path("valLoss").asDouble();
        assertThat(loss).isBetween(1.0, 12.0);   // near ln(50272) ≈ 10.8 after two steps
        assertThat(eval.path("perplexity").asDouble()).isCloseTo(Math.exp(loss), org.assertj.core.data.Percentage.withPercentage(0.1));
        assertThat(eval.path("tokens").asLong()).isPositive();

        String[] generate = {"generate", "--checkpoint", checkpoint, "--prompt", "The Parliament", "--tokens", "6",
                "--seed", "3"};
        String first = runCli(dir, generate);
        assertThat(first).startsWith("The Parliament").hasSizeGreaterThan("The Parliament".length());
        assertThat(runCli(dir, generate)).as("same seed, same text").isEqualTo(first);
    }
}
