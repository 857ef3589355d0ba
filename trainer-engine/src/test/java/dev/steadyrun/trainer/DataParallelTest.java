package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.trainer.checkpoint.CheckpointContent;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;

/**
 * Data-parallel training with its ranks as threads of this JVM (each a full {@link Trainer} on a real TCP ring on
 * 127.0.0.1): equivalence with one rank, exact resume, identical initial parameters enforced. The failure cases
 * that need real processes (a killed rank, a stale generation) are in {@link DataParallelProcessTest}.
 */
class DataParallelTest {
    private static final RingSecret SECRET = RingSecret.random();

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    record RankRun(Trainer trainer, List<StepMetrics> steps, List<CheckpointWritten> checkpoints) {
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Runs one Trainer per rank (rank r's config is configs.get(r)) and returns their runs by rank. */
    static List<RankRun> trainRanks(Path dir, List<Map<String, String>> configs, String restore, long generation)
            throws Exception {
        int world = configs.size();
        String rendezvous = "127.0.0.1:" + freePort();
        // one checkpoint store shared by every rank, as the run's shared volume is
        return trainRanks(configs, rank -> new Trainer.Launch(dir, restore, null, null, rank, world, generation,
                rendezvous, null, SECRET));
    }

    /** Runs one Trainer per rank, rank r launched as {@code launches.apply(r)} with config configs.get(r). */
    static List<RankRun> trainRanks(List<Map<String, String>> configs, IntFunction<Trainer.Launch> launches)
            throws Exception {
        int world = configs.size();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<RankRun>> futures = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    List<TrainerLine> lines = new ArrayList<>();
                    Trainer t = new Trainer(l -> {
                        synchronized (lines) {
                            lines.add(l);
                        }
                    });
                    t.run(configs.get(rank), launches.apply(rank));
                    synchronized (lines) {
                        return new RankRun(t,
                                lines.stream().filter(StepMetrics.class::isInstance).map(StepMetrics.class::cast).toList(),
                                lines.stream().filter(CheckpointWritten.class::isInstance)
                                        .map(CheckpointWritten.class::cast).toList());
                    }
                }));
            }
            List<RankRun> runs = new ArrayList<>();
            for (Future<RankRun> f : futures) {
                runs.add(f.get(240, TimeUnit.SECONDS));
            }
            return runs;
        } finally {
            pool.shutdownNow();
        }
    }

    static List<Map<String, String>> same(int world, Map<String, String> config) {
        List<Map<String, String>> all = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            all.add(config);
        }
        return all;
    }

    /**
     * 2 ranks × micro-batch 2 ≡ 1 rank × micro-batch 4, same global batch (256 tokens, 2 accumulated micro-batches)
     * and the same windows in the same order (the sampler hands rank r slice r of each global micro-batch).
     * Dropout is off: its masks are drawn per micro-batch shape, which differs. What still differs is the order of
     * float additions (each rank's half-batch gradients summed over the ring instead of inside one matmul, and the
     * gradient norm accumulated per tensor segment of a shard instead of per tensor, in float by ND4J). Tolerances,
     * with what was measured: loss 1e-6 relative (1e-9), gradient norm 1e-4 relative (3e-5; 7e-5 since issue 14's
     * per-segment norm), parameters 2e-5 absolute (9e-6; 4e-7 since issue 14)
     * after 4 AdamW steps at lr 3e-3; an element whose gradient is rounding noise can move by up to lr per step in
     * Adam's normalised update, so parameters cannot be expected to agree much closer.
     */
    @Test
    void twoRanksMatchOneRankWithTheDoubleBatch(@TempDir Path dir) throws Exception {
        assertRanksMatchOneRank(dir, 2, 1e-2);
    }

    /**
     * Two nodes of two ranks (issue 18: global ranks 0-1 on one node, 2-3 on the other, neighbours in the ring, each
     * node's cores split between its ranks) × micro-batch 1 ≡ 1 rank × micro-batch 4 at the same global batch, within
     * the tolerances of {@link #twoRanksMatchOneRankWithTheDoubleBatch} but the gradient norm's: 1e-3 relative
     * (measured 3.4e-4 at step 4, against 6.6e-5 for 2 ranks: four shards' norms summed in float, and three Adam
     * steps of rounding noise before it). The ranks are threads of this JVM on
     * 127.0.0.1 here; which ranks share a node only decides the ring's order and which links leave the node.
     */
    @Test
    void twoNodesOfTwoRanksMatchOneRankWithTheSameGlobalBatch(@TempDir Path dir) throws Exception {
        assertRanksMatchOneRank(dir, 4, 1e-1);
    }

    /**
     * {@code world} ranks × micro-batch 4 / world against 1 rank × micro-batch 4: every rank's steps match the single
     * rank's (loss, grad norm within {@code gradNormPercent}, lr), its parameters too, and all ranks agree.
     */
    private static void assertRanksMatchOneRank(Path dir, int world, double gradNormPercent) throws Exception {
        Map<String, String> one = TrainerTest.small("dropout", "0", "maxSteps", "4", "threads", "1");
        TrainerTest.Run single = TrainerTest.train(dir.resolve("single"), one, null, null);
        Map<String, String> part = new LinkedHashMap<>(one);
        part.put("microBatch", Integer.toString(4 / world));
        List<RankRun> ranks = trainRanks(dir.resolve("dp"), same(world, part), null, 0);
        for (RankRun r : ranks) {
            assertThat(r.steps()).hasSize(4);
            for (int i = 0; i < 4; i++) {
                StepMetrics a = single.steps().get(i);
                StepMetrics b = r.steps().get(i);
                assertThat(b.tokensSeen()).isEqualTo(a.tokensSeen());
                assertThat(b.loss()).as("loss at step %d", a.step())
                        .isCloseTo(a.loss(), org.assertj.core.data.Percentage.withPercentage(1e-4));
                // ND4J's norm2 of a FLOAT array accumulates in float over millions of elements: ~1e-5 relative
                assertThat(b.gradNorm()).as("grad norm at step %d", a.step())
                        .isCloseTo(a.gradNorm(), org.assertj.core.data.Percentage.withPercentage(gradNormPercent));
                System.err.printf("step %d: loss %s vs %s, grad norm %s vs %s%n", a.step(), a.loss(), b.loss(),
                        a.gradNorm(), b.gradNorm());
                assertThat(b.lr()).isEqualTo(a.lr());
            }
        }
        // every rank reports the same (global) loss
        for (RankRun r : ranks) {
            assertThat(r.steps()).extracting(StepMetrics::loss)
                    .isEqualTo(ranks.get(0).steps().stream().map(StepMetrics::loss).toList());
        }
        Map<String, INDArray> p1 = single.trainer().model().params();
        for (RankRun r : ranks) {
            Map<String, INDArray> pn = r.trainer().model().params();
            double maxDiff = 0;
            for (String name : p1.keySet()) {
                maxDiff = Math.max(maxDiff, p1.get(name).sub(pn.get(name)).amaxNumber().doubleValue());
            }
            System.err.println("max |param difference| 1 rank vs " + ranks.size() + " ranks after 4 steps: " + maxDiff);
            assertThat(maxDiff).isLessThan(2e-5);
        }
        // and the ranks hold bit-identical parameters
        for (RankRun r : ranks) {
            assertThat(TrainerTest.hash(r.trainer().model().params()))
                    .isEqualTo(TrainerTest.hash(ranks.get(0).trainer().model().params()));
        }
    }

    /**
     * 2 ranks, N steps straight ≡ k steps, stop, resume, N − k steps: identical loss bits, parameters and Adam
     * moments (FP16 emulation with a moving loss scale and dropout on, so the scaler state and the per-rank dropout
     * seeds are exercised). Both ranks write their shards of each checkpoint into the shared store; a single rank
     * can resume it too (resharded).
     */
    @Test
    void resumeWithTwoRanksIsBitExact(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("precision", "fp16-emulated", "lossScaleWindow", "2",
                "microBatch", "2", "maxSteps", "4", "threads", "1");
        List<RankRun> straight = trainRanks(dir.resolve("a"), same(2, config), null, 0);

        Map<String, String> firstHalf = new LinkedHashMap<>(config);
        firstHalf.put("maxSteps", "2");
        trainRanks(dir.resolve("b"), same(2, firstHalf), null, 0);
        List<RankRun> resumed = trainRanks(dir.resolve("b"), same(2, Map.of("maxSteps", "4")), "latest", 1);

        for (int r = 0; r < 2; r++) {
            assertThat(resumed.get(r).steps()).extracting(StepMetrics::step).containsExactly(3L, 4L);
            for (int i = 0; i < 2; i++) {
                StepMetrics a = straight.get(r).steps().get(2 + i);
                StepMetrics b = resumed.get(r).steps().get(i);
                assertThat(Double.doubleToRawLongBits(b.loss())).as("rank %d loss bits at step %d", r, a.step())
                        .isEqualTo(Double.doubleToRawLongBits(a.loss()));
                assertThat(b.gradNorm()).isEqualTo(a.gradNorm());
                assertThat(b.lossScale()).isEqualTo(a.lossScale());
            }
            assertThat(TrainerTest.hash(resumed.get(r).trainer().model().params()))
                    .isEqualTo(TrainerTest.hash(straight.get(r).trainer().model().params()));
        }
        assertThat(straight.get(0).steps().get(3).lossScale()).isGreaterThan(straight.get(0).steps().get(0).lossScale());
        assertThat(straight.get(1).checkpoints()).isEmpty();
        CheckpointContent a = CheckpointStore.load(dir.resolve("a").resolve(CheckpointStore.dirName(4)));
        CheckpointContent b = CheckpointStore.load(dir.resolve("b").resolve(CheckpointStore.dirName(4)));
        assertThat(TrainerTest.hash(b.arrays())).isEqualTo(TrainerTest.hash(a.arrays()));   // both ranks' moments too
        TrainState state = TrainState.fromJson(b.stateJson());
        assertThat(state.worldSize()).isEqualTo(2);
        assertThat(state.generation()).isEqualTo(1);

        // the same checkpoint resumes on one rank (same format); its step 5 is a normal step
        TrainerTest.Run alone = TrainerTest.train(dir.resolve("b"), Map.of("maxSteps", "5", "microBatch", "4"),
                "latest", null);
        assertThat(alone.steps()).extracting(StepMetrics::step).containsExactly(5L);
        assertThat(alone.steps().get(0).loss()).isFinite();
    }

    /**
     * Resharding (N → M ranks): a checkpoint written by 3 ranks resumes on 2 and on 4, and the one the 2 ranks then
     * write resumes on 4; every resumed step's loss matches the straight 3-rank run. The global batch is the same 12
     * windows per step at every world size (microBatch 1, 384 tokens), dropout is off; only the grouping of the float
     * sums differs (each rank's micro-batches, the ring's chunks), so the losses agree to float tolerance, not bits.
     */
    @Test
    void aCheckpointOfThreeRanksResumesOnTwoAndOnFourMatchingAStraightRun(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("dropout", "0", "microBatch", "1", "batchTokens", "384",
                "maxSteps", "6", "checkpointInterval", "2", "threads", "1");
        List<StepMetrics> straight = trainRanks(dir.resolve("straight"), same(3, config), null, 0).get(0).steps();

        Map<String, String> firstTwo = new LinkedHashMap<>(config);
        firstTwo.put("maxSteps", "2");
        trainRanks(dir.resolve("a"), same(3, firstTwo), null, 0);
        Path two = dir.resolve("a").resolve(CheckpointStore.dirName(2));
        assertThat(CheckpointReader.open(two, null).worldSize()).isEqualTo(3);
        Files.createDirectories(dir.resolve("b"));
        try (var files = Files.list(two)) {
            Path copy = Files.createDirectories(dir.resolve("b").resolve(two.getFileName()));
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }

        List<RankRun> onTwo = trainRanks(dir.resolve("a"), same(2, Map.of("maxSteps", "4")), "latest", 1);
        assertThat(CheckpointReader.open(dir.resolve("a").resolve(CheckpointStore.dirName(4)), null).worldSize())
                .isEqualTo(2);
        List<RankRun> twoOnFour = trainRanks(dir.resolve("a"), same(4, Map.of("maxSteps", "6")), "latest", 2);
        List<RankRun> onFour = trainRanks(dir.resolve("b"), same(4, Map.of("maxSteps", "4")), "latest", 1);

        assertMatches("3 -> 2", straight, onTwo, 3);
        assertMatches("2 -> 4", straight, twoOnFour, 5);
        assertMatches("3 -> 4", straight, onFour, 3);
    }

    static void assertMatches(String what, List<StepMetrics> straight, List<RankRun> resumed, long firstStep) {
        for (RankRun r : resumed) {
            assertThat(r.steps()).extracting(StepMetrics::step).containsExactly(firstStep, firstStep + 1);
            for (StepMetrics b : r.steps()) {
                StepMetrics a = straight.get((int) b.step() - 1);
                System.err.printf("%s, step %d: loss %s resumed vs %s straight%n", what, b.step(), b.loss(), a.loss());
                assertThat(b.loss()).as("%s: loss at step %d", what, b.step())
                        .isCloseTo(a.loss(), org.assertj.core.data.Percentage.withPercentage(1e-3));
                assertThat(b.tokensSeen()).isEqualTo(a.tokensSeen());
                assertThat(b.lr()).isEqualTo(a.lr());
            }
        }
    }

    /**
     * A loss scale far too large: the summed scaled gradients overflow FP16, and every rank skips the step and
     * halves the scale in lockstep; the parameters stay the initial ones.
     */
    @Test
    void anOverflowIsASkippedStepOnEveryRank(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("precision", "fp16-emulated", "lossScaleInit", "1e12",
                "microBatch", "2", "maxSteps", "2", "threads", "1");
        List<RankRun> ranks = trainRanks(dir, same(2, config), null, 0);
        TrainConfig c = TrainConfig.fromMap(config);
        OptModel initial = OptModel.initialize(c.modelConfig(), org.nd4j.linalg.api.buffer.DataType.FLOAT, c.seed(),
                true);
        for (RankRun r : ranks) {
            assertThat(r.steps()).allSatisfy(s -> assertThat(s.overflow()).isTrue());
            assertThat(r.steps()).extracting(StepMetrics::lossScale).containsExactly(1e12, 5e11);
            assertThat(r.trainer().state().adamSteps()).isZero();
            assertThat(TrainerTest.hash(r.trainer().model().params())).isEqualTo(TrainerTest.hash(initial.params()));
        }
    }

    /** A rank started with another seed has other initial parameters: every rank refuses to train, naming it. */
    @Test
    void differentInitialParametersAreRefusedOnEveryRank(@TempDir Path dir) throws Exception {
        Map<String, String> config = TrainerTest.small("microBatch", "2", "maxSteps", "2", "threads", "1");
        Map<String, String> otherSeed = new LinkedHashMap<>(config);
        otherSeed.put("seed", "2");
        int world = 2;
        String rendezvous = "127.0.0.1:" + freePort();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    new Trainer(l -> { }).run(rank == 0 ? config : otherSeed, new Trainer.Launch(
                            dir.resolve("rank" + rank), null, null, null, rank, world, 0, rendezvous, null, SECRET));
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                try {
                    f.get(120, TimeUnit.SECONDS);
                    throw new AssertionError("a rank trained despite different initial parameters");
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(TrainConfig.InvalidConfigException.class)
                            .hasMessageContaining("initial parameters of rank(s) [1] differ from rank 0's");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(CheckpointStore.latestValid(dir)).isEmpty();
    }

    /**
     * Rollback (issue 9): restoring step 2 of a directory that holds steps 1–4 moves 3 and 4 into
     * abandoned/gen-G/ before training, so the new step 3 is written beside 1 and 2 and "latest" finds it.
     */
    @Test
    void aRollbackMovesNewerCheckpointsAside(@TempDir Path dir) throws Exception {
        TrainerTest.train(dir, TrainerTest.small("maxSteps", "4", "checkpointInterval", "1", "keepCheckpoints", "10"),
                null, null);
        String oldStep3 = CheckpointStore.manifestSha256(dir.resolve(CheckpointStore.dirName(3)));
        Path two = dir.resolve(CheckpointStore.dirName(2));

        List<TrainerLine> lines = new ArrayList<>();
        new Trainer(lines::add).run(Map.of("maxSteps", "3"), new Trainer.Launch(dir, two.toString(), null, 0, 1, 7));

        Path abandoned = dir.resolve("abandoned").resolve("gen-7");
        assertThat(abandoned.resolve(CheckpointStore.dirName(3))).isDirectory();
        assertThat(abandoned.resolve(CheckpointStore.dirName(4))).isDirectory();
        assertThat(CheckpointStore.manifestSha256(abandoned.resolve(CheckpointStore.dirName(3)))).isEqualTo(oldStep3);
        try (var entries = Files.list(dir)) {
            assertThat(entries.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("step-")).sorted())
                    .containsExactly(CheckpointStore.dirName(1), CheckpointStore.dirName(2), CheckpointStore.dirName(3));
        }
        assertThat(CheckpointStore.latestValid(dir)).contains(dir.resolve(CheckpointStore.dirName(3)));
        assertThat(CheckpointStore.manifestSha256(dir.resolve(CheckpointStore.dirName(3)))).isNotEqualTo(oldStep3);
    }
}
