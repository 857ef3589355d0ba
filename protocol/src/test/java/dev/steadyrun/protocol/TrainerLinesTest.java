package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class TrainerLinesTest {

    @Test
    void stepLineRoundTrips() {
        var step = new StepMetrics(12, 4096, 5.25, 0.8, 4.0, false, 3e-4, 610.5, 420.0, 1_000_000L, List.of(1.0, 2.5));
        String line = TrainerLines.write(step);
        assertThat(line).startsWith("{").contains("\"type\":\"step\"");
        assertThat(TrainerLines.parse(line)).contains(step);
    }

    @Test
    void checkpointLineRoundTrips() {
        var ckpt = new CheckpointWritten(100, 51200, "/ckpt/step-100", 8.0, 4.1, "ab12", 12345, List.of(40L, 60L));
        assertThat(TrainerLines.parse(TrainerLines.write(ckpt))).contains(ckpt);
        // a line of a trainer that predates removedSteps
        var old = (CheckpointWritten) TrainerLines.parse("{\"type\":\"checkpoint\",\"step\":7,\"tokensSeen\":1,"
                + "\"path\":\"/c\",\"lossScale\":1,\"loss\":2,\"manifestSha256\":\"ab\",\"bytes\":3}").orElseThrow();
        assertThat(old.removedSteps()).isEmpty();
        assertThat(old.kind()).as("a line without a kind is a durable checkpoint").isEqualTo(CheckpointWritten.DURABLE);
        assertThat(old.inMemory()).isFalse();
    }

    @Test
    void aMemorySnapshotLineNamesItsRankAndTheShardsItsNodeHolds() {
        var snapshot = CheckpointWritten.memory(40, 20480, "/dev/shm/steadyrun/run-x/rank-1/step-00000040", 2.0, 3.5,
                "cd34", 999, List.of(20L), 1, List.of(0, 1), "aa", "bb");
        var parsed = (CheckpointWritten) TrainerLines.parse(TrainerLines.write(snapshot)).orElseThrow();
        assertThat(parsed).isEqualTo(snapshot);
        assertThat(parsed.inMemory()).isTrue();
        assertThat(TrainerLines.write(snapshot)).contains("\"kind\":\"memory\"", "\"heldRanks\":[0,1]")
                .doesNotContain("inMemory");
    }

    @Test
    void nonFiniteLossSurvivesTheRoundTrip() {
        var step = new StepMetrics(3, 10, Double.NaN, Double.POSITIVE_INFINITY, 0.03125, true, 1e-3, 0, 1, 0, List.of());
        var parsed = (StepMetrics) TrainerLines.parse(TrainerLines.write(step)).orElseThrow();
        assertThat(parsed.loss()).isNaN();
        assertThat(parsed.gradNorm()).isInfinite();
    }

    @Test
    void logLinesAndUnknownTypesAreIgnored() {
        assertThat(TrainerLines.parse("INFO loading checkpoint")).isEmpty();
        assertThat(TrainerLines.parse("{\"type\":\"other\"}")).isEmpty();
        assertThat(TrainerLines.parse("{broken")).isEmpty();
        assertThat(TrainerLines.parse("")).isEmpty();
    }
}
