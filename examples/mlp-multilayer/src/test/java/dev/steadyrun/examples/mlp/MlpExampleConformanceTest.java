package dev.steadyrun.examples.mlp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.ConformanceCheck;
import dev.steadyrun.agent.trainer.ConformanceCheck.Finding;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLines;

/** The example, run as the agent runs a program, against docs/trainer-protocol.md. */
class MlpExampleConformanceTest {

    private static final List<String> PROGRAM = ConformanceCheck.javaProgram(MlpExample.class);

    @Test
    void theExampleConforms(@TempDir Path dir) throws Exception {
        // the OPT keys an agent passes today come along, as they would from a run spec, and are ignored
        Map<String, String> config = Map.of("maxSteps", "6", "checkpointInterval", "2", "lr", "0.01",
                "model", "tiny", "seqLen", "32");
        List<Finding> findings = new ConformanceCheck(PROGRAM, config, dir, Duration.ofMinutes(5)).run();
        findings.forEach(System.out::println); // the report, in the test's output file

        assertThat(findings).as(String.join("\n", findings.stream().map(Finding::toString).toList()))
                .hasSizeGreaterThanOrEqualTo(20).allMatch(Finding::passed);
    }

    /** A learning rate of 1e38 overflows the logits: the NaN step's line comes first, then exit 4 (diverged). */
    @Test
    void aNonFiniteLossIsPrintedAndEndsWithExit4(@TempDir Path dir) throws Exception {
        List<String> argv = new ArrayList<>(PROGRAM);
        argv.addAll(List.of("train", "--set", "lr=1e38", "--set", "maxSteps=50", "--checkpoint-dir", dir.toString()));
        Process p = new ProcessBuilder(argv).redirectError(dir.resolve("stderr").toFile()).start();
        List<StepMetrics> steps = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            r.lines().forEach(line -> TrainerLines.parse(line).ifPresent(l -> steps.add((StepMetrics) l)));
        }
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();

        assertThat(p.exitValue()).isEqualTo(ExitCodes.DIVERGED);
        assertThat(steps).isNotEmpty();
        assertThat(steps.get(steps.size() - 1).loss()).isNaN();
        assertThat(steps.subList(0, steps.size() - 1)).allMatch(s -> Double.isFinite(s.loss()));
    }
}
