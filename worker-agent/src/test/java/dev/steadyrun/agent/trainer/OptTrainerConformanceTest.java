package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.ConformanceCheck.Finding;
import dev.steadyrun.agent.testing.Processes;

/** The built-in OPT trainer, run as the agent runs it, against docs/trainer-protocol.md. */
class OptTrainerConformanceTest {

    /** A small OPT-shaped model on the shipped Europarl sample: 6 steps, a checkpoint every 2. */
    static final Map<String, String> SMALL = Map.ofEntries(Map.entry("model", "tiny"), Map.entry("dModel", "64"),
            Map.entry("heads", "2"), Map.entry("seqLen", "32"), Map.entry("microBatch", "4"),
            Map.entry("batchTokens", "256"), Map.entry("lr", "3e-3"), Map.entry("warmupSteps", "3"),
            Map.entry("decayTokens", "1000000"), Map.entry("maxSteps", "6"), Map.entry("checkpointInterval", "2"),
            Map.entry("threads", "1"), Map.entry("data", "europarl"));

    @Test
    void theBuiltInTrainerConforms(@TempDir Path dir) throws Exception {
        List<String> trainer = List.of(Processes.java(),
                "-Xmx768m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "dev.steadyrun.trainer.Main");
        List<Finding> findings = new ConformanceCheck(trainer, SMALL, dir, Duration.ofMinutes(5)).run();
        findings.forEach(System.out::println); // the report, in the test's output file

        assertThat(findings).as(String.join("\n", findings.stream().map(Finding::toString).toList()))
                .hasSizeGreaterThanOrEqualTo(20).allMatch(Finding::passed);
    }
}
