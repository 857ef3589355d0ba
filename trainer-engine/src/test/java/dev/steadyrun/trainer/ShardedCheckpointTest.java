package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.trainer.checkpoint.Retention;
import dev.steadyrun.trainer.checkpoint.WrittenCheckpoint;
import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.trainer.TrainConfig.Sharding;

/**
 * {@link DataParallel} on a small hand-made model over a real TCP ring (ranks as threads): the flat vector cut into
 * pieces far smaller than {@link DataParallel#MAX_PIECE} (how models over 536,870,911 parameters run on several
 * ranks) trains to the same bits as one piece, and a sharded checkpoint written at one world size and piece size
 * restores at others to the same bits. Each gradient element comes from one rank (the others add zero) and is a
 * multiple of 1/8, so the sums over the ranks are exact and the same at every world size: bit-identity is then a
 * fair expectation.
 */
class ShardedCheckpointTest {
    private static final RingSecret SECRET = RingSecret.random();
    /** 30 + 17 + 16 + 23 + 9 = 95 elements; pieces of at most 40 make three pieces: [a], [b, c], [d, e]. */
    private static final Map<String, long[]> SHAPES = shapes();

    private static Map<String, long[]> shapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("a", new long[]{6, 5});
        m.put("b", new long[]{17});
        m.put("c", new long[]{4, 4});
        m.put("d", new long[]{23});
        m.put("e", new long[]{3, 3});
        return m;
    }

    static Map<String, INDArray> initialParams() {
        Map<String, INDArray> p = new LinkedHashMap<>();
        int k = 0;
        for (Map.Entry<String, long[]> e : SHAPES.entrySet()) {
            INDArray a = Nd4j.create(DataType.FLOAT, e.getValue());
            INDArray flat = a.reshape(a.length());
            for (int i = 0; i < a.length(); i++) {
                flat.putScalar(i, Math.sin(0.37 * k++));
            }
            p.put(e.getKey(), a);
        }
        return p;
    }

    /** What one rank ends with: its parameters and how many pieces its flat vector had. */
    record End(Map<String, INDArray> params, int pieces) {
    }

    interface Body<T> {
        T run(Collectives ring, Map<String, INDArray> params, DataParallel dp) throws Exception;
    }

    static <T> List<T> onRing(int world, long maxPiece, Body<T> body) throws Exception {
        return onRing(world, maxPiece, Sharding.ZERO1, body);
    }

    static <T> List<T> onRing(int world, long maxPiece, Sharding sharding, Body<T> body) throws Exception {
        String rendezvous = "127.0.0.1:" + DataParallelTest.freePort();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                Trainer.Launch launch = new Trainer.Launch(null, null, null, null, r, world, 1, rendezvous, null, SECRET);
                futures.add(pool.submit(() -> {
                    try (Collectives ring = DataParallel.join(launch, Duration.ofSeconds(30), Duration.ofSeconds(30))) {
                        Map<String, INDArray> params = initialParams();
                        return body.run(ring, params, sharding == Sharding.ZERO1
                                ? DataParallel.over(ring, params, maxPiece) : DataParallel.over(ring, params, sharding));
                    }
                }));
            }
            List<T> ends = new ArrayList<>();
            for (Future<T> f : futures) {
                ends.add(f.get(120, TimeUnit.SECONDS));
            }
            return ends;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Steps [from, to) with exact gradients split over the ranks; AdamW with weight decay. */
    static void train(DataParallel dp, Map<String, INDArray> params, int from, int to) {
        Map<String, INDArray> grads = dp.gradients();
        for (int step = from; step < to; step++) {
            dp.zeroGradients();
            int k = 0;
            for (INDArray g : grads.values()) {
                INDArray flat = g.reshape(g.length());
                for (int i = 0; i < g.length(); i++, k++) {
                    // element k's gradient comes from rank k mod N alone: the same sum at every world size
                    flat.putScalar(i, k % dp.worldSize() == dp.rank() ? ((k * 7 + step * 5) % 11 - 5) / 8.0 : 0);
                }
            }
            dp.reduce(0, false, 1.0, false, false, false);
            dp.step(Optimizer.Kind.ADAMW, params, 1.0, 1e-2, 0.1, 0.9, 0.95, 1e-8);
        }
    }

    static List<String> bits(Map<String, INDArray> params) {
        return TrainerTest.hash(params);
    }

    @Test
    void smallPiecesTrainToTheSameBitsAsOnePiece() throws Exception {
        List<End> one = onRing(3, DataParallel.MAX_PIECE, (ring, p, dp) -> {
            train(dp, p, 0, 4);
            return new End(p, dp.pieceCount());
        });
        List<End> cut = onRing(3, 40, (ring, p, dp) -> {
            train(dp, p, 0, 4);
            return new End(p, dp.pieceCount());
        });
        assertThat(one.get(0).pieces()).isEqualTo(1);
        assertThat(cut.get(0).pieces()).isEqualTo(3);
        assertThat(bits(one.get(0).params())).isNotEqualTo(bits(initialParams()));   // it did train
        for (int r = 0; r < 3; r++) {
            assertThat(bits(cut.get(r).params())).as("rank %d", r).isEqualTo(bits(one.get(0).params()));
        }
    }

    @Test
    void aCheckpointOfThreeRanksRestoresBitExactlyOnTwoAndOnFourWithOtherPieces(@TempDir Path dir) throws Exception {
        List<End> straight = onRing(3, 40, (ring, p, dp) -> {
            train(dp, p, 0, 4);
            return new End(p, dp.pieceCount());
        });
        String sha = writeCheckpoint(dir, 3, 40, 2);
        Path checkpoint = dir.resolve(CheckpointPaths.dirName(2));
        assertThat(CheckpointPaths.arrayFiles(checkpoint)).hasSize(3 * 3 * 3);   // 3 ranks × 3 pieces × 3 kinds
        CheckpointStore.verify(checkpoint);

        for (int world : new int[]{2, 4}) {
            for (long maxPiece : new long[]{30, DataParallel.MAX_PIECE}) {
                List<End> resumed = onRing(world, maxPiece, (ring, p, dp) -> {
                    dp.restore(CheckpointReader.open(checkpoint, sha), 2, p);
                    train(dp, p, 2, 4);
                    return new End(p, dp.pieceCount());
                });
                for (End e : resumed) {
                    assertThat(bits(e.params())).as("%d ranks, pieces of %d", world, maxPiece)
                            .isEqualTo(bits(straight.get(0).params()));
                }
            }
        }
        // and the whole checkpoint, assembled (eval, generate), is the straight run's state at step 2
        List<End> two = onRing(1, DataParallel.MAX_PIECE, (ring, p, dp) -> {
            train(dp, p, 0, 2);
            return new End(p, dp.pieceCount());
        });
        assertThat(bits(Resume.prefixed(CheckpointStore.load(checkpoint, sha), "param/")))
                .isEqualTo(bits(two.get(0).params()));
    }

    /**
     * A checkpoint of the old single-writer format (format 1: one file per tensor, full moments) still restores, at
     * any world size, to the same bits.
     */
    @Test
    void aSingleWriterCheckpointOfTheOldFormatStillRestores(@TempDir Path dir) throws Exception {
        List<End> straight = onRing(1, DataParallel.MAX_PIECE, (ring, p, dp) -> {
            train(dp, p, 0, 4);
            return new End(p, dp.pieceCount());
        });
        String[] sha = new String[1];
        onRing(1, DataParallel.MAX_PIECE, (ring, p, dp) -> {
            train(dp, p, 0, 2);
            // one rank, one piece: its parts are the whole flat vectors, cut here into the old per-tensor arrays
            Map<String, INDArray> arrays = new LinkedHashMap<>();
            for (CheckpointStore.ShardPart part : dp.shardParts()) {
                long at = 0;
                for (Map.Entry<String, long[]> t : SHAPES.entrySet()) {
                    long n = java.util.Arrays.stream(t.getValue()).reduce(1, (x, y) -> x * y);
                    arrays.put(part.kind() + "/" + t.getKey(), part.values()
                            .get(org.nd4j.linalg.indexing.NDArrayIndex.interval(at, at + n)).dup().reshape(t.getValue()));
                    at += n;
                }
            }
            try (CheckpointStore store = new CheckpointStore(dir, new Retention(5, 0))) {
                sha[0] = store.write(new dev.steadyrun.trainer.checkpoint.CheckpointContent(2, arrays, "{}"))
                        .manifestSha256();
            }
            return new End(p, dp.pieceCount());
        });
        Path checkpoint = dir.resolve(CheckpointPaths.dirName(2));
        assertThat(Files.readString(checkpoint.resolve(CheckpointPaths.MANIFEST))).contains("\"format\" : 1");
        for (int world : new int[]{2, 3}) {
            List<End> resumed = onRing(world, 40, (ring, p, dp) -> {
                dp.restore(CheckpointReader.open(checkpoint, sha[0]), 2, p);
                train(dp, p, 2, 4);
                return new End(p, dp.pieceCount());
            });
            for (End e : resumed) {
                assertThat(bits(e.params())).as("%d ranks", world).isEqualTo(bits(straight.get(0).params()));
            }
        }
    }

    @Test
    void aCorruptShardFailsTheRestoreOnEveryRank(@TempDir Path dir) throws Exception {
        String sha = writeCheckpoint(dir, 3, 40, 1);
        Path checkpoint = dir.resolve(CheckpointPaths.dirName(1));
        Path victim = checkpoint.resolve(CheckpointPaths.shardFile("adam_v", 2, 1));
        TrainerTest.flipAByte(victim);

        String rendezvous = "127.0.0.1:" + DataParallelTest.freePort();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                Trainer.Launch launch = new Trainer.Launch(null, null, null, null, r, 2, 1, rendezvous, null, SECRET);
                futures.add(pool.submit(() -> {
                    try (Collectives ring = DataParallel.join(launch, Duration.ofSeconds(30), Duration.ofSeconds(30))) {
                        Map<String, INDArray> params = initialParams();
                        DataParallel.over(ring, params, 40).restore(CheckpointReader.open(checkpoint, sha), 1, params);
                    }
                    return null;
                }));
            }
            List<String> messages = new ArrayList<>();
            for (Future<?> f : futures) {
                try {
                    f.get(120, TimeUnit.SECONDS);
                    throw new AssertionError("a rank restored a corrupt checkpoint");
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(CorruptCheckpointException.class);
                    messages.add(e.getCause().getMessage());
                }
            }
            // rank 1 of 2 owns the end of the vector, where rank 2 of 3 wrote: it names the file, rank 0 names rank 1
            assertThat(messages.get(1)).contains(victim.getFileName().toString()).contains("SHA-256");
            assertThat(messages.get(0)).contains("rank 1");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Trains {@code steps} steps at this world size and writes a sharded checkpoint; returns its manifest's SHA-256. */
    private static String writeCheckpoint(Path dir, int world, long maxPiece, int steps) throws Exception {
        String[] sha = new String[1];
        onRing(world, maxPiece, (ring, p, dp) -> {
            // opened before training, as the trainer does: rank 0's opening deletes unfinished work, and the training
            // steps' collectives keep the others from writing shards until it has
            try (CheckpointStore store = CheckpointStore.forRank(dir, new Retention(5, 0), dp.rank())) {
                train(dp, p, 0, steps);
                List<ShardFile> mine = store.writeShardsAsync(steps, 1, dp.rank(), dp.shardParts(),
                        dp.rank() == 0 ? "{\"step\":" + steps + "}" : null).written().join();
                List<ShardFile> all = dp.exchangeShardFiles(mine);
                if (dp.rank() == 0) {
                    assertThat(all).hasSize(world * 3 * dp.pieceCount() + 1);
                    WrittenCheckpoint w = store.commitAsync(steps, 1, world, dp.layout(), all).join();
                    sha[0] = w.manifestSha256();
                }
            }
            return new End(p, dp.pieceCount());
        });
        try (var leftovers = Files.list(dir)) {
            assertThat(leftovers.map(f -> f.getFileName().toString()).filter(n -> n.startsWith(".tmp"))).isEmpty();
        }
        return sha[0];
    }
}
