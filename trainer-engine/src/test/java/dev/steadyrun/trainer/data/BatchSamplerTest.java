package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchSamplerTest {

    private static final int SEQ = 16;

    @TempDir
    Path dir;
    TokenShards data;

    @BeforeEach
    void setUp() throws IOException {
        // windows per shard: (T - 1) / 16 = 62, 93, 43 -> 198 windows an epoch
        data = TokenShards.open(TestDatasets.positional(dir, 1000, 1500, 700), "train");
    }

    @AfterEach
    void tearDown() {
        data.close();
    }

    @Test
    void rowsAreContiguousWindowsWithShiftedTargets() {
        int[][] batch = new BatchSampler(data, 7, 4, SEQ, 0, 1).next();
        assertThat(batch).hasNumberOfRows(4);
        for (int[] row : batch) {
            assertThat(row).hasSize(SEQ + 1);
            for (int i = 1; i < row.length; i++) {
                assertThat(row[i]).isEqualTo(row[0] + i);
            }
        }
    }

    @Test
    void sameSeedSameBatchesOtherSeedOtherOrder() {
        BatchSampler a = new BatchSampler(data, 42, 3, SEQ, 0, 1);
        BatchSampler b = new BatchSampler(data, 42, 3, SEQ, 0, 1);
        BatchSampler c = new BatchSampler(data, 43, 3, SEQ, 0, 1);
        List<Integer> fromA = starts(a, 100);
        assertThat(starts(b, 100)).isEqualTo(fromA);
        assertThat(starts(c, 100)).isNotEqualTo(fromA);
    }

    @Test
    void everyWindowOnceAnEpochThenANewOrder() {
        BatchSampler s = new BatchSampler(data, 5, 2, SEQ, 0, 1);
        List<Integer> epoch0 = starts(s, 99);          // 99 batches x 2 = 198 windows = one epoch
        assertThat(s.cursor().epoch()).isEqualTo(1);
        List<Integer> epoch1 = starts(s, 99);
        assertThat(new HashSet<>(epoch0)).hasSize(198).isEqualTo(new HashSet<>(epoch1));
        assertThat(epoch1).isNotEqualTo(epoch0);
        for (int start : epoch0) {                      // no window crosses a shard boundary
            int shardEnd = start < 1000 ? 1000 : start < 2500 ? 2500 : 3200;
            assertThat(start + SEQ + 1).isLessThanOrEqualTo(shardEnd);
        }
    }

    @Test
    void restoreOnAFreshSamplerContinuesExactly() {
        for (int k : new int[] {0, 1, 30, 98, 99, 150, 400}) {
            BatchSampler first = new BatchSampler(data, 11, 2, SEQ, 0, 1);
            starts(first, k);
            DataCursor cursor = first.cursor();
            List<Integer> expected = starts(first, 50);

            BatchSampler resumed = new BatchSampler(data, 11, 2, SEQ, 0, 1);
            resumed.restore(cursor);
            assertThat(resumed.cursor()).isEqualTo(cursor);
            assertThat(starts(resumed, 50)).as("after %d batches", k).isEqualTo(expected);
        }
    }

    @Test
    void skipIsDrawingAndDiscarding() {
        for (long n : new long[] {0, 1, 7, 99, 250, 1000}) {
            BatchSampler drawn = new BatchSampler(data, 3, 4, SEQ, 1, 2);
            for (long i = 0; i < n; i++) {
                drawn.next();
            }
            BatchSampler skipped = new BatchSampler(data, 3, 4, SEQ, 1, 2);
            skipped.skip(n);
            assertThat(skipped.cursor()).as("skip %d", n).isEqualTo(drawn.cursor());
            assertThat(starts(skipped, 5)).isEqualTo(starts(drawn, 5));
        }
    }

    @Test
    void ranksReadDisjointSlicesOfTheSingleRankStream() {
        int world = 3;
        int batch = 2;
        BatchSampler single = new BatchSampler(data, 9, batch * world, SEQ, 0, 1);
        List<BatchSampler> ranks = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            ranks.add(new BatchSampler(data, 9, batch, SEQ, r, world));
        }
        Set<Integer> seen = new HashSet<>();
        for (int step = 0; step < 33; step++) {            // 33 x 6 = 198 windows: one epoch
            List<Integer> global = new ArrayList<>();
            for (BatchSampler r : ranks) {
                for (int[] row : r.next()) {
                    global.add(row[0]);
                }
            }
            List<Integer> expected = new ArrayList<>();
            for (int[] row : single.next()) {
                expected.add(row[0]);
            }
            assertThat(global).isEqualTo(expected);
            for (int start : global) {
                assertThat(seen.add(start)).as("window %d read twice", start).isTrue();
            }
            assertThat(ranks.get(0).cursor()).isEqualTo(ranks.get(2).cursor()).isEqualTo(single.cursor());
        }
    }

    @Test
    void badArgumentsAndForeignCursorsAreRejected() {
        assertThatThrownBy(() -> new BatchSampler(data, 1, 2, SEQ, 2, 2)).hasMessageContaining("rank");
        assertThatThrownBy(() -> new BatchSampler(data, 1, 0, SEQ, 0, 1)).hasMessageContaining("batchSize");
        assertThatThrownBy(() -> new BatchSampler(data, 1, 1, 5000, 0, 1)).hasMessageContaining("full window");
        BatchSampler s = new BatchSampler(data, 1, 2, SEQ, 0, 1);
        assertThatThrownBy(() -> s.restore(new DataCursor(0, 5, 0))).hasMessageContaining("cursor.offset");
        assertThatThrownBy(() -> s.restore(new DataCursor(9, 0, 0))).hasMessageContaining("cursor.shard");
        assertThatThrownBy(() -> s.restore(new DataCursor(0, 0, -1))).hasMessageContaining("cursor.epoch");
    }

    private static List<Integer> starts(BatchSampler s, int batches) {
        List<Integer> out = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            for (int[] row : s.next()) {
                out.add(row[0]);
            }
        }
        return out;
    }
}
