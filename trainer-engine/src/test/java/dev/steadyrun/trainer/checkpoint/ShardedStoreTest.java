package dev.steadyrun.trainer.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardPart;

/** The two phases of a sharded checkpoint on the store: shards are no checkpoint; rank 0's commit makes one. */
class ShardedStoreTest {
    private static final Retention KEEP = new Retention(10, 0);
    /** One tensor "w" of 8 floats: rank 0 holds elements [0, 5), rank 1 [5, 8). */
    private static final Map<String, long[]> LAYOUT = Map.of("w", new long[]{2, 4});

    private static List<ShardPart> parts(int rank) {
        int from = rank == 0 ? 0 : 5;
        int to = rank == 0 ? 5 : 8;
        List<ShardPart> out = new ArrayList<>();
        for (int k = 0; k < CheckpointPaths.KINDS.size(); k++) {
            INDArray values = Nd4j.create(DataType.FLOAT, to - from);
            for (int i = from; i < to; i++) {
                values.putScalar(i - from, 100 * k + i);
            }
            out.add(new ShardPart(CheckpointPaths.KINDS.get(k), 0, from, values));
        }
        return out;
    }

    @Test
    void shardsBecomeACheckpointOnlyWhenRankZeroCommitsThem(@TempDir Path root) throws Exception {
        try (CheckpointStore rank0 = CheckpointStore.forRank(root, KEEP, 0);
             CheckpointStore rank1 = CheckpointStore.forRank(root, KEEP, 1)) {
            List<ShardFile> files = new ArrayList<>(rank0.writeShardsAsync(7, 3, 0, parts(0), "{}").written().join());
            files.addAll(rank1.writeShardsAsync(7, 3, 1, parts(1), null).written().join());
            assertThat(rank0.list()).as("shards alone").isEmpty();
            assertThat(root.resolve(".tmp-step-00000007-gen-3")).isDirectory();

            WrittenCheckpoint w = rank0.commitAsync(7, 3, 2, LAYOUT, files).join();
            assertThat(rank0.list()).containsExactly(root.resolve(CheckpointPaths.dirName(7)));
            assertThat(w.manifestSha256()).isEqualTo(CheckpointStore.manifestSha256(w.path()));
            CheckpointStore.verify(w.path());
            CheckpointContent c = CheckpointStore.load(w.path(), w.manifestSha256());
            for (int k = 0; k < CheckpointPaths.KINDS.size(); k++) {
                INDArray a = c.arrays().get(CheckpointPaths.KINDS.get(k) + "/w");
                assertThat(a.shape()).containsExactly(2, 4);
                for (int i = 0; i < 8; i++) {
                    assertThat(a.reshape(8).getFloat(i)).isEqualTo(100f * k + i);
                }
            }
            CheckpointReader reader = CheckpointReader.open(w.path(), w.manifestSha256());
            assertThat(reader.worldSize()).isEqualTo(2);
            INDArray middle = Nd4j.create(DataType.FLOAT, 4);
            reader.read("adam_m", 3, middle);   // across both ranks' files
            assertThat(middle.toFloatVector()).containsExactly(103f, 104f, 105f, 106f);
        }
    }

    /** Ranks that do not share one directory would commit a checkpoint nobody can restore: rank 0 refuses. */
    @Test
    void rankZeroRefusesToCommitWhenARankWroteElsewhere(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("rank0-node");
        Path elsewhere = dir.resolve("rank1-node");
        try (CheckpointStore rank0 = CheckpointStore.forRank(root, KEEP, 0);
             CheckpointStore rank1 = CheckpointStore.forRank(elsewhere, KEEP, 1)) {
            List<ShardFile> files = new ArrayList<>(rank0.writeShardsAsync(7, 3, 0, parts(0), "{}").written().join());
            files.addAll(rank1.writeShardsAsync(7, 3, 1, parts(1), null).written().join());
            assertThatThrownBy(() -> rank0.commitAsync(7, 3, 2, LAYOUT, files).join())
                    .isInstanceOf(CompletionException.class)
                    .hasMessageContaining(CheckpointPaths.shardFile("param", 1, 0))
                    .hasMessageContaining("shared");
            assertThat(rank0.list()).isEmpty();
        }
        try (Stream<Path> left = Files.list(root)) {
            assertThat(left.map(p -> p.getFileName().toString())).doesNotContain(".tmp-step-00000007-gen-3");
        }
    }
}
