package dev.steadyrun.agent.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.StepMetrics;

class ReportBufferTest {

    private final UUID run = UUID.randomUUID();
    private final ReportBuffer.Source g1 = new ReportBuffer.Source(run, 0, 1);
    private final ReportBuffer.Source g2 = new ReportBuffer.Source(run, 0, 2);

    private static StepMetrics step(long n) {
        return new StepMetrics(n, n * 10, 3.0, 1.0, 1.0, false, 1e-4, 100, 10, 1, List.of());
    }

    private static CheckpointWritten checkpoint(long n) {
        return new CheckpointWritten(n, n * 10, "/c/step-" + n, 1.0, 3.0, "sha", 1);
    }

    @Test
    void batchesKeepOrderAndNeverMixGenerations() {
        ReportBuffer buffer = new ReportBuffer(100, 3);
        for (int i = 1; i <= 4; i++) {
            buffer.add(g1, step(i));
        }
        buffer.add(g1, checkpoint(4));
        buffer.add(g2, step(5));

        var first = buffer.next().orElseThrow();
        assertThat(first.report().steps()).extracting(StepMetrics::step).containsExactly(1L, 2L, 3L);
        assertThat(first.report().generation()).isEqualTo(1);
        buffer.sent(first);

        var second = buffer.next().orElseThrow();
        assertThat(second.report().steps()).extracting(StepMetrics::step).containsExactly(4L);
        assertThat(second.report().checkpoints()).extracting(CheckpointWritten::step).containsExactly(4L);
        buffer.sent(second);

        var third = buffer.next().orElseThrow();
        assertThat(third.report().generation()).isEqualTo(2);
        buffer.sent(third);
        assertThat(buffer.next()).isEmpty();
    }

    @Test
    void overflowDropsOldestStepsWithACountButNeverCheckpoints() {
        ReportBuffer buffer = new ReportBuffer(5, 100);
        buffer.add(g1, checkpoint(0));
        for (int i = 1; i <= 10; i++) {
            buffer.add(g1, step(i));
        }
        buffer.add(g1, checkpoint(10));

        assertThat(buffer.size()).isEqualTo(5);
        assertThat(buffer.droppedTotal()).isEqualTo(7);
        var batch = buffer.next().orElseThrow();
        assertThat(batch.report().checkpoints()).extracting(CheckpointWritten::step).containsExactly(0L, 10L);
        assertThat(batch.report().steps()).extracting(StepMetrics::step).containsExactly(8L, 9L, 10L);
        assertThat(batch.report().droppedSteps()).isEqualTo(7);
        buffer.sent(batch);

        buffer.add(g1, step(11));
        assertThat(buffer.next().orElseThrow().report().droppedSteps()).as("count is sent once").isZero();
    }

    @Test
    void linesDroppedWhileABatchIsInFlightAreNotResent() {
        ReportBuffer buffer = new ReportBuffer(3, 3);
        buffer.add(g1, step(1));
        buffer.add(g1, step(2));
        buffer.add(g1, step(3));
        var inFlight = buffer.next().orElseThrow();
        buffer.add(g1, step(4)); // drops step 1, which is in flight
        buffer.sent(inFlight);
        assertThat(buffer.next().orElseThrow().report().steps()).extracting(StepMetrics::step).containsExactly(4L);
    }

    @Test
    void discardForgetsAFencedGeneration() {
        ReportBuffer buffer = new ReportBuffer(100, 100);
        buffer.add(g1, step(1));
        buffer.add(g2, step(1));
        buffer.add(g1, checkpoint(1));
        buffer.discard(g1);
        assertThat(buffer.size()).isEqualTo(1);
        assertThat(buffer.next().orElseThrow().source()).isEqualTo(g2);
    }
}
