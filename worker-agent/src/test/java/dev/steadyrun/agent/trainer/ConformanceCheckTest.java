package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.ConformanceCheck.Finding;
import dev.steadyrun.protocol.StepMetrics;

/** The check fails programs that break the protocol (its passing side: {@link OptTrainerConformanceTest}). */
class ConformanceCheckTest {

    @Test
    void aStepLineWithoutItsGradientNormIsAProblem() {
        List<String> problems = new ArrayList<>();
        String line = "{\"type\":\"step\",\"step\":1,\"tokensSeen\":2,\"loss\":3,\"lossScale\":1,\"overflow\":false,"
                + "\"lr\":0.1,\"tokensPerSec\":1,\"stepTimeMs\":1,\"rssBytes\":0}";
        assertThat(ConformanceCheck.read(line, problems)).isNull();
        assertThat(problems).singleElement().asString().contains("lacks [gradNorm]");

        problems.clear();
        assertThat(ConformanceCheck.read(line.replace("\"loss\":3", "\"loss\":3,\"gradNorm\":0.5"), problems))
                .isInstanceOf(StepMetrics.class);
        assertThat(ConformanceCheck.read("INFO starting", problems)).isNull();
        assertThat(problems).isEmpty();
    }

    /** A program that prints one incomplete step and no checkpoint fails, and the restore checks are not run. */
    @Test
    void aProgramWithoutCheckpointsFails(@TempDir Path dir) throws Exception {
        List<String> program = List.of("/bin/sh", "-c",
                "echo '{\"type\":\"step\",\"step\":1,\"tokensSeen\":2,\"loss\":3}'", "trainer");
        List<Finding> findings = new ConformanceCheck(program, Map.of(), dir, Duration.ofMinutes(1)).run();

        assertThat(findings).filteredOn(f -> !f.passed()).extracting(Finding::check).contains(
                "fresh start: every protocol line carries its required members",
                "fresh start: at least 4 steps and 2 checkpoints before the last step");
        assertThat(findings).noneMatch(f -> f.check().startsWith("restore"));
    }
}
