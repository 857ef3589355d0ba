package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.assertj.core.data.Percentage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.trainer.DataParallelTest.RankRun;
import dev.steadyrun.trainer.TrainConfig.Sharding;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;

/**
 * Fully sharded data parallelism ({@code sharding=fsdp}) with its ranks as threads of this JVM on a real TCP ring:
 * equivalence with one rank, restore across splits and sharding modes, and what each rank holds.
 */
class FullyShardedTest {

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    /**
     * 2 fully sharded ranks × micro-batch 2 ≡ 1 rank × micro-batch 4 (ZeRO-1, the reference path), same global batch
     * and windows, dropout off. Besides the float-order differences of {@link DataParallelTest}'s ZeRO-1 case, each
     * micro-batch's gradients are reduce-scattered on their own and summed into the shard, rather than summed over
     * the micro-batches first; the same tolerances hold (measured: printed below). The parameters are compared
     * through the final checkpoints, the only place a fully sharded run's whole parameters exist; the model on each
     * rank holds none.
     */
    @Test
    void twoFullyShardedRanksMatchOneRank(@TempDir Path dir) throws Exception {
        Map<String, String> one = TrainerTest.small("dropout", "0", "maxSteps", "4", "threads", "1");
        TrainerTest.Run single = TrainerTest.train(dir.resolve("single"), one, null, null);

        Map<String, String> half = new LinkedHashMap<>(one);
        half.put("microBatch", "2");
        half.put("sharding", "fsdp");
        List<RankRun> ranks = DataParallelTest.trainRanks(dir.resolve("fsdp"), DataParallelTest.same(2, half), null, 0);

        for (RankRun r : ranks) {
            assertThat(r.steps()).hasSize(4);
            for (int i = 0; i < 4; i++) {
                StepMetrics a = single.steps().get(i);
                StepMetrics b = r.steps().get(i);
                System.err.printf("fsdp step %d: loss %s vs %s, grad norm %s vs %s%n", a.step(), a.loss(), b.loss(),
                        a.gradNorm(), b.gradNorm());
                assertThat(b.tokensSeen()).isEqualTo(a.tokensSeen());
                assertThat(b.loss()).as("loss at step %d", a.step()).isCloseTo(a.loss(), Percentage.withPercentage(1e-4));
                assertThat(b.gradNorm()).as("grad norm at step %d", a.step())
                        .isCloseTo(a.gradNorm(), Percentage.withPercentage(1e-2));
            }
            assertThat(r.trainer().model().params()).as("no rank keeps the whole model").isEmpty();
        }
        assertThat(ranks.get(1).steps()).extracting(StepMetrics::loss)
                .isEqualTo(ranks.get(0).steps().stream().map(StepMetrics::loss).toList());
        Map<String, INDArray> expected = finalParams(dir.resolve("single"), 4);
        Map<String, INDArray> actual = finalParams(dir.resolve("fsdp"), 4);
        double maxDiff = 0;
        for (String name : expected.keySet()) {
            maxDiff = Math.max(maxDiff, expected.get(name).sub(actual.get(name)).amaxNumber().doubleValue());
        }
        System.err.println("max |param difference| 1 rank vs 2 fsdp ranks after 4 steps: " + maxDiff);
        assertThat(maxDiff).isLessThan(2e-5);
        assertThat(CheckpointReader.open(dir.resolve("fsdp").resolve(CheckpointStore.dirName(4)), null).worldSize())
                .isEqualTo(2);
    }

    /**
     * Restore across splits and modes: a checkpoint of 2 fully sharded ranks resumes on 3 ZeRO-1 ranks, whose
     * checkpoint resumes on 4 fully sharded ranks; every resumed step matches a straight 3-rank ZeRO-1 run (12
     * windows per step at every world size, dropout off: float tolerance, as in DataParallelTest's resharding case).
     */
    @Test
    void checkpointsMoveBetweenFsdpAndZeroOneAtAnyWorldSize(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("dropout", "0", "microBatch", "1", "batchTokens", "384",
                "maxSteps", "6", "checkpointInterval", "2", "threads", "1");
        List<StepMetrics> straight = DataParallelTest.trainRanks(dir.resolve("straight"),
                DataParallelTest.same(3, config), null, 0).get(0).steps();

        Map<String, String> first = new LinkedHashMap<>(config);
        first.put("maxSteps", "2");
        first.put("sharding", "fsdp");
        List<RankRun> fsdpTwo = DataParallelTest.trainRanks(dir, DataParallelTest.same(2, first), null, 0);
        DataParallelTest.assertMatches("fsdp 2 from scratch", straight, fsdpTwo, 1);
        List<RankRun> zeroThree = DataParallelTest.trainRanks(dir,
                DataParallelTest.same(3, Map.of("maxSteps", "4", "sharding", "zero1")), "latest", 1);
        DataParallelTest.assertMatches("fsdp 2 -> zero1 3", straight, zeroThree, 3);
        assertThat(CheckpointReader.open(dir.resolve(CheckpointStore.dirName(4)), null).worldSize()).isEqualTo(3);
        List<RankRun> fsdpFour = DataParallelTest.trainRanks(dir,
                DataParallelTest.same(4, Map.of("maxSteps", "6", "sharding", "fsdp")), "latest", 2);
        DataParallelTest.assertMatches("zero1 3 -> fsdp 4", straight, fsdpFour, 5);
        assertThat(fsdpFour.get(0).trainer().model().params()).isEmpty();
    }

    /**
     * Exact resume, fully sharded: 2 ranks, FP16 emulation with a moving loss scale and dropout on, 4 steps straight
     * ≡ 2 steps, stop, 2 more: identical loss bits, gradient norms and loss scales, and identical checkpoints
     * (parameters and moments). The gathers, the per-unit reductions and the FP16 rounding of the gathered copies are
     * all deterministic.
     */
    @Test
    void resumeFullyShardedIsBitExact(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("precision", "fp16-emulated", "lossScaleWindow", "2",
                "microBatch", "2", "maxSteps", "4", "threads", "1", "sharding", "fsdp");
        List<RankRun> straight = DataParallelTest.trainRanks(dir.resolve("a"), DataParallelTest.same(2, config), null, 0);
        Map<String, String> firstHalf = new LinkedHashMap<>(config);
        firstHalf.put("maxSteps", "2");
        DataParallelTest.trainRanks(dir.resolve("b"), DataParallelTest.same(2, firstHalf), null, 0);
        List<RankRun> resumed = DataParallelTest.trainRanks(dir.resolve("b"),
                DataParallelTest.same(2, Map.of("maxSteps", "4")), "latest", 1);
        for (int r = 0; r < 2; r++) {
            assertThat(resumed.get(r).steps()).extracting(StepMetrics::step).containsExactly(3L, 4L);
            for (int i = 0; i < 2; i++) {
                StepMetrics a = straight.get(r).steps().get(2 + i);
                StepMetrics b = resumed.get(r).steps().get(i);
                assertThat(Double.doubleToRawLongBits(b.loss())).isEqualTo(Double.doubleToRawLongBits(a.loss()));
                assertThat(b.gradNorm()).isEqualTo(a.gradNorm());
                assertThat(b.lossScale()).isEqualTo(a.lossScale());
            }
        }
        assertThat(straight.get(0).steps().get(3).lossScale()).isGreaterThan(straight.get(0).steps().get(0).lossScale());
        assertThat(TrainerTest.hash(CheckpointStore.load(dir.resolve("b").resolve(CheckpointStore.dirName(4))).arrays()))
                .isEqualTo(TrainerTest.hash(CheckpointStore.load(dir.resolve("a").resolve(CheckpointStore.dirName(4)))
                        .arrays()));
    }

    /**
     * What a rank holds between steps: under ZeRO-1 the whole model's parameters and gradients plus its chunk of the
     * moments; fully sharded, its chunks of all four, so the ranks' bytes add up to one model's (4 arrays × FP32) at
     * every world size and each rank's is 1/N of it, to within one element per piece.
     */
    @Test
    void fullyShardedRanksHoldOneNthOfTheState() throws Exception {
        long elements = ShardedCheckpointTest.initialParams().values().stream().mapToLong(INDArray::length).sum();
        long whole = 4 * elements * Float.BYTES;
        for (int world : new int[]{1, 2, 4}) {
            List<long[]> bytes = ShardedCheckpointTest.onRing(world, DataParallel.MAX_PIECE, Sharding.FSDP,
                    (ring, p, dp) -> new long[]{dp.residentBytes(), dp.pieceCount()});
            assertThat(bytes.stream().mapToLong(b -> b[0]).sum()).as("fsdp bytes over %d ranks", world)
                    .isEqualTo(whole);
            for (long[] b : bytes) {
                long slack = b[1] * 4 * Float.BYTES;   // the chunks of a piece differ by at most one element
                assertThat(b[0]).as("one of %d ranks", world).isBetween(whole / world - slack, whole / world + slack);
            }
        }
        List<Long> zeroOne = ShardedCheckpointTest.onRing(2, DataParallel.MAX_PIECE, (ring, p, dp) -> dp.residentBytes());
        assertThat(zeroOne.stream().mapToLong(Long::longValue).sum())
                .isEqualTo(2 * (2 * elements * Float.BYTES) + 2 * elements * Float.BYTES);
    }

    private static Map<String, INDArray> finalParams(Path dir, long step) throws Exception {
        return Resume.prefixed(CheckpointStore.load(dir.resolve(CheckpointStore.dirName(step))), "param/");
    }
}
