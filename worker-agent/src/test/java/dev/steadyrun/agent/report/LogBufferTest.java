package dev.steadyrun.agent.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.TrainerLogBatch;

class LogBufferTest {

    private final UUID run = UUID.randomUUID();
    private final ReportBuffer.Source g1 = new ReportBuffer.Source(run, 0, 1);
    private final ReportBuffer.Source g2 = new ReportBuffer.Source(run, 0, 2);

    @Test
    void aFullBufferDropsTheOldestLineAndCountsItPerGenerationAsARunningTotal() {
        LogBuffer buffer = new LogBuffer(3);
        buffer.add(g1, TrainerLogBatch.Stream.STDERR, "a", 0, Instant.EPOCH);
        buffer.add(g2, TrainerLogBatch.Stream.STDERR, "b", 0, Instant.EPOCH);
        buffer.add(g2, TrainerLogBatch.Stream.STDERR, "c", 1, Instant.EPOCH);
        buffer.add(g2, TrainerLogBatch.Stream.STDOUT, "d", 2, Instant.EPOCH);
        buffer.add(g2, TrainerLogBatch.Stream.STDOUT, "e", 3, Instant.EPOCH);
        assertThat(buffer.size()).isEqualTo(3);
        assertThat(buffer.droppedTotal()).isEqualTo(2);

        LogBuffer.Batch batch = buffer.next().orElseThrow();
        assertThat(batch.batch().generation()).isEqualTo(2);
        assertThat(batch.batch().lines()).extracting(TrainerLogBatch.Line::text).containsExactly("c", "d", "e");
        assertThat(batch.batch().droppedLines()).isEqualTo(1);
        buffer.sent(batch);
        buffer.add(g2, TrainerLogBatch.Stream.STDOUT, "f", 4, Instant.EPOCH);
        assertThat(buffer.next().orElseThrow().batch().droppedLines()).as("still the running total").isEqualTo(1);
    }

    @Test
    void aBatchStaysUnderTheCharacterBudgetAndLinesAreCleaned() {
        LogBuffer buffer = new LogBuffer(1000);
        String longLine = "x".repeat(50_000); // cut to MAX_LINE_CHARS
        for (int i = 0; i < 200; i++) {
            buffer.add(g1, TrainerLogBatch.Stream.STDOUT, longLine, i, Instant.EPOCH);
        }
        buffer.add(g1, TrainerLogBatch.Stream.STDOUT, "bell\u0007", 200, Instant.EPOCH);
        LogBuffer.Batch first = buffer.next().orElseThrow();
        int chars = first.batch().lines().stream().mapToInt(l -> l.text().length()).sum();
        assertThat(chars).isLessThanOrEqualTo(TrainerLogBatch.MAX_BATCH_CHARS);
        assertThat(first.batch().lines()).hasSize(TrainerLogBatch.MAX_BATCH_CHARS / TrainerLogBatch.MAX_LINE_CHARS)
                .allMatch(l -> l.text().length() == TrainerLogBatch.MAX_LINE_CHARS);
        buffer.sent(first);
        LogBuffer.Batch rest = buffer.next().orElseThrow();
        assertThat(rest.batch().lines().get(0).seq()).isEqualTo(first.batch().lines().size());
        assertThat(rest.batch().lines().get(rest.batch().lines().size() - 1).text()).isEqualTo("bell\uFFFD");
    }
}
