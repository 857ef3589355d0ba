package dev.steadyrun.orchestrator.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.TrainerLogBatch;

class LogWindowsTest {

    private final UUID run = UUID.randomUUID();

    private static LogWindows windows(int lines, int maxWindows, long maxChars) {
        return new LogWindows(new LogProperties(lines, maxWindows, maxChars, 4, Duration.ofSeconds(1),
                Duration.ofMinutes(1)));
    }

    private static List<TrainerLogBatch.Line> lines(long from, long to, int length) {
        List<TrainerLogBatch.Line> out = new ArrayList<>();
        for (long s = from; s < to; s++) {
            String text = ("line " + s + " ").repeat(length).substring(0, length);
            out.add(new TrainerLogBatch.Line(s, Instant.EPOCH, TrainerLogBatch.Stream.STDOUT, text));
        }
        return out;
    }

    @Test
    void theWindowWrittenLeastRecentlyGoesFirstWhenThereAreTooManyOrTooManyCharacters() {
        LogWindows w = windows(10, 2, 100_000);
        LogWindows.Key a = new LogWindows.Key(run, 0, 1);
        LogWindows.Key b = new LogWindows.Key(run, 1, 1);
        LogWindows.Key c = new LogWindows.Key(UUID.randomUUID(), 0, 1);
        w.append(a, lines(0, 1, 10), 0);
        w.append(b, lines(0, 1, 10), 0);
        w.read(a, -1, 10); // reading is no writing
        w.append(c, lines(0, 1, 10), 0);
        assertThat(w.size()).isEqualTo(2);
        assertThat(w.read(a, -1, 10).lines()).as("a, written first, went").isEmpty();
        assertThat(w.read(b, -1, 10).lines()).hasSize(1);

        LogWindows budget = windows(100, 100, 100_000);
        for (int rank = 0; rank < 30; rank++) {
            budget.append(new LogWindows.Key(run, rank, 1), lines(0, 10, 1000), 0);
        }
        assertThat(budget.chars()).isLessThanOrEqualTo(100_000);
        assertThat(budget.size()).isEqualTo(10);
        assertThat(budget.read(new LogWindows.Key(run, 29, 1), -1, 100).lines()).hasSize(10);
    }

    @Test
    void aNewerGenerationSupersedesTheOlderWindowsOfItsRunOnly() {
        LogWindows w = windows(10, 10, 100_000);
        LogWindows.Key g1 = new LogWindows.Key(run, 0, 1);
        LogWindows.Key other = new LogWindows.Key(UUID.randomUUID(), 0, 1);
        w.append(g1, lines(0, 2, 5), 0);
        w.append(other, lines(0, 2, 5), 0);
        assertThat(w.read(g1, -1, 10).superseded()).isFalse();
        w.append(new LogWindows.Key(run, 1, 2), lines(0, 1, 5), 0);
        assertThat(w.read(g1, -1, 10).superseded()).isTrue();
        assertThat(w.read(g1, -1, 10).lines()).as("its lines stay readable").hasSize(2);
        assertThat(w.read(other, -1, 10).superseded()).isFalse();
    }

    @Test
    void resentLinesAreSkippedAndGapsCountAsMissed() {
        LogWindows w = windows(10, 10, 100_000);
        LogWindows.Key k = new LogWindows.Key(run, 0, 1);
        w.append(k, lines(0, 5, 5), 1);
        w.append(k, lines(3, 8, 5), 3);
        w.append(k, lines(3, 8, 5), 3); // sent again: its answer was lost
        LogWindows.Read all = w.read(k, -1, 100);
        assertThat(all.lines()).extracting(LogLine::seq).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
        assertThat(all.droppedLines()).as("a running total, counted once").isEqualTo(3);
        w.append(k, lines(8, 20, 5), 0);
        LogWindows.Read late = w.read(k, 2, 100);
        assertThat(late.lines()).extracting(LogLine::seq).startsWith(10L).endsWith(19L);
        assertThat(late.missedLines()).as("3..9 left the window before this reader asked").isEqualTo(7);
    }
}
