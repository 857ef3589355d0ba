package dev.steadyrun.examples.charlstm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.ConformanceCheck;
import dev.steadyrun.agent.trainer.ConformanceCheck.Finding;

/** The ComputationGraph example, run as the agent runs a program, against docs/trainer-protocol.md. */
class CharLstmExampleConformanceTest {

    @Test
    void theExampleConforms(@TempDir Path dir) throws Exception {
        // a smaller model than the default keeps the check's launches short; the OPT keys an agent passes are ignored
        Map<String, String> config = Map.of("maxSteps", "6", "checkpointInterval", "2", "hidden", "32",
                "microBatch", "8", "chars", "32", "textChars", "50000", "model", "tiny", "seqLen", "64");
        List<Finding> findings = new ConformanceCheck(ConformanceCheck.javaProgram(CharLstmExample.class), config,
                dir, Duration.ofMinutes(5)).run();
        findings.forEach(System.out::println); // the report, in the test's output file

        assertThat(findings).as(String.join("\n", findings.stream().map(Finding::toString).toList()))
                .hasSizeGreaterThanOrEqualTo(20).allMatch(Finding::passed);
    }

    @Test
    void theTextIsEuroparlAndEveryCharacterHasAClass() throws Exception {
        String text = CharLstmExample.read(5000);
        // the bodies, not the titles and dates: the first document is Italian, the second Swedish
        assertThat(text).hasSize(5000).startsWith("Istituzioni europee proteggerlo").contains("\ntill MAI-avtal")
                .doesNotContain("2004-03-30");
        byte[] codes = CharLstmExample.encode(text);
        assertThat(IntStream.range(0, codes.length).map(i -> codes[i]))
                .allMatch(c -> c >= 0 && c < CharLstmExample.VOCAB);
        assertThat(CharLstmExample.encode("a~ é")).containsExactly(1 + 'a' - ' ', CharLstmExample.VOCAB - 1, 1, 0);
    }
}
