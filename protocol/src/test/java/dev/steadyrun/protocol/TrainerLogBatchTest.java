package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import tools.jackson.databind.json.JsonMapper;

class TrainerLogBatchTest {

    private final JsonMapper json = JsonMapper.builder().build();

    @Test
    void roundTripsAndDefaultsAbsentFields() {
        var batch = new TrainerLogBatch(UUID.randomUUID(), 2, 3, List.of(new TrainerLogBatch.Line(7,
                Instant.parse("2026-01-02T03:04:05Z"), TrainerLogBatch.Stream.STDERR, "hello")), 4L);
        assertThat(json.readValue(json.writeValueAsString(batch), TrainerLogBatch.class)).isEqualTo(batch);

        var bare = json.readValue("{\"runId\":\"" + batch.runId() + "\",\"rank\":0,\"generation\":1}",
                TrainerLogBatch.class);
        assertThat(bare.lines()).isEmpty();
        assertThat(bare.droppedLines()).isZero();
    }

    @Test
    void cleanCutsLongLinesWithAMarkerAndNeverSplitsASurrogatePair() {
        assertThat(TrainerLogBatch.clean("short line")).isEqualTo("short line");
        String cut = TrainerLogBatch.clean("x".repeat(10_000));
        assertThat(cut).hasSize(TrainerLogBatch.MAX_LINE_CHARS).endsWith(TrainerLogBatch.CUT_MARKER);

        int end = TrainerLogBatch.MAX_LINE_CHARS - TrainerLogBatch.CUT_MARKER.length();
        String emoji = "x".repeat(end - 1) + "\uD83D\uDE00" + "t".repeat(100); // the pair straddles the cut
        String cleaned = TrainerLogBatch.clean(emoji);
        assertThat(cleaned).isEqualTo("x".repeat(end - 1) + TrainerLogBatch.CUT_MARKER);
        assertThat(TrainerLogBatch.clean("x".repeat(TrainerLogBatch.MAX_LINE_CHARS)))
                .as("a line of exactly the limit stays whole").hasSize(TrainerLogBatch.MAX_LINE_CHARS)
                .doesNotEndWith(TrainerLogBatch.CUT_MARKER);
    }

    @Test
    void cleanReplacesControlCharactersButKeepsTabsAndText() {
        assertThat(TrainerLogBatch.clean("a\u0000b\u001b[31mred\tc\u007f\u009bd é €"))
                .isEqualTo("a\uFFFDb\uFFFD[31mred\tc\uFFFD\uFFFDd é €");
    }
}
