package dev.steadyrun.examples.samediff;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.ConformanceCheck;
import dev.steadyrun.agent.trainer.ConformanceCheck.Finding;

/** The SameDiff example, run as the agent runs a program, against docs/trainer-protocol.md. */
class RegressionExampleConformanceTest {

    @Test
    void theExampleConforms(@TempDir Path dir) throws Exception {
        // the OPT keys an agent passes today come along, as they would from a run spec, and are ignored
        Map<String, String> config = Map.of("maxSteps", "6", "checkpointInterval", "2", "lr", "0.01",
                "model", "tiny", "seqLen", "32");
        List<Finding> findings = new ConformanceCheck(ConformanceCheck.javaProgram(RegressionExample.class), config,
                dir, Duration.ofMinutes(5)).run();
        findings.forEach(System.out::println); // the report, in the test's output file

        assertThat(findings).as(String.join("\n", findings.stream().map(Finding::toString).toList()))
                .hasSizeGreaterThanOrEqualTo(20).allMatch(Finding::passed);
    }
}
