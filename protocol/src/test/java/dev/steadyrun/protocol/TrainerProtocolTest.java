package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

class TrainerProtocolTest {

    private static List<String> components(Class<? extends Record> type) {
        return Arrays.stream(type.getRecordComponents()).map(RecordComponent::getName).toList();
    }

    @Test
    void requiredFieldsAreMembersOfTheLines() {
        // a renamed record component would otherwise leave the conformance check asking for a field nobody writes
        assertThat(components(StepMetrics.class)).containsExactlyInAnyOrderElementsOf(concat(TrainerProtocol.STEP_FIELDS,
                        List.of("activationNorms", "clipNorm")));
        assertThat(components(CheckpointWritten.class)).containsExactlyInAnyOrderElementsOf(
                concat(TrainerProtocol.CHECKPOINT_FIELDS, List.of("removedSteps", "kind", "rank", "heldRanks",
                        "shardSha256", "replicaSha256")));
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }

    @Test
    void clipNormIsOptionalInStepLines() {
        var withClip = new StepMetrics(3, 30, 2.5, 0.7, 1.0, false, 1e-3, 10, 5, 0, List.of(), 0.3);
        assertThat(TrainerLines.parse(TrainerLines.write(withClip))).contains(withClip);
        var old = (StepMetrics) TrainerLines.parse("{\"type\":\"step\",\"step\":1,\"tokensSeen\":2,\"loss\":3,"
                + "\"gradNorm\":1,\"lossScale\":1,\"overflow\":false,\"lr\":0.1,\"tokensPerSec\":1,\"stepTimeMs\":1,"
                + "\"rssBytes\":0}").orElseThrow();
        assertThat(old.clipNorm()).isNull();
        assertThat(old.activationNorms()).isNull();
    }
}
