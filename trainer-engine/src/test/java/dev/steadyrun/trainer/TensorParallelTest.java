package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.protocol.RingSecret;

/**
 * Megatron-LM tensor parallelism in {@link OptModel}: members as threads of this JVM, each with its slice of the
 * same whole model, on a real TCP ring of their own.
 */
class TensorParallelTest {

    /** A vocabulary of 28: 14 ids per member at TP = 2, 7 at TP = 4. */
    private static final ModelConfig CFG = new ModelConfig(2, 4, 16, 6, 28);

    interface Member<T> {
        T run(Collectives ring, DistConfig config) throws Exception;
    }

    /** Runs {@code size} ranks on a ring of their own (its config passed on); their results by rank. */
    static <T> List<T> ring(int size, Member<T> member) throws Exception {
        String rendezvous = "127.0.0.1:" + DataParallelTest.freePort();
        RingSecret secret = RingSecret.random();
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < size; t++) {
                Trainer.Launch launch = new Trainer.Launch(null, null, null, null, t, size, 1, rendezvous, "tp", secret);
                DistConfig config = DistConfig.of("tp", 1, t, size, rendezvous, secret);
                futures.add(pool.submit(() -> {
                    try (Collectives ring = DataParallel.join(launch, Duration.ofSeconds(30), Duration.ofSeconds(30))) {
                        return member.run(ring, config);
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static int[][] rows(Random random) {
        int[][] rows = new int[3][CFG.seqLen() + 1];
        for (int[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = random.nextInt(CFG.vocab());
            }
        }
        rows[1][2] = rows[0][0];   // repeated ids: the embedding scatter-add
        for (int t = 0; t < 4; t++) {
            // an input and a target in each member's rows of wte, at TP = 2 and 4
            rows[2][1 + t] = t * CFG.vocab() / 4 + random.nextInt(CFG.vocab() / 4);
        }
        return rows;
    }

    /** A whole model moved away from its initial point, where most gradients are tiny and LayerNorm gains all 1. */
    private static OptModel whole(DataType dtype) {
        OptModel model = OptModel.initialize(CFG, dtype, 7, false);
        Nd4j.getRandom().setSeed(5);
        model.params().values().forEach(p -> {
            if (p.rank() == 2) {
                p.muli(30);
            } else {
                p.addi(Nd4j.randn(dtype, p.shape()).muli(0.1));
            }
        });
        return model;
    }

    /**
     * TP = 2 and 4 ≡ TP = 1 in FP32 (the direct-buffer path of the all-reduce), dropout on (replicated masks): the
     * same loss on every member, equal to the whole model's, and each member's gradients equal to its slice of the
     * whole model's (wte's by vocabulary rows); replicated tensors' gradients (position embedding, LayerNorms, the
     * row-parallel biases) whole on each member. The next-token logits, gathered over the group, are the whole
     * model's.
     */
    @Test
    void twoSlicesMatchTheWholeModel() throws Exception {
        OptModel model = whole(DataType.FLOAT);
        int[][] rows = rows(new Random(3));
        double scale = 1.0 / (rows.length * CFG.seqLen());
        Map<String, INDArray> grads = model.zeroGradients();
        double loss = model.forwardBackward(rows, 0.1, 42, scale, grads).lossSum();
        INDArray next = Nd4j.createFromArray(model.nextTokenLogits(rows[0]));

        for (int size : new int[]{2, 4}) {
            List<Double> worst = ring(size, (ring, config) -> {
                TensorParallel g = new TensorParallel(ring);
                OptModel slice = OptModel.fromParams(CFG, DataType.FLOAT,
                        OptModel.tensorSlice(model.params(), g.rank(), g.size()), false, g);
                Map<String, INDArray> mine = slice.zeroGradients();
                double l = slice.forwardBackward(rows, 0.1, 42, scale, mine).lossSum();
                assertThat(l).as("loss, member %d of %d", g.rank(), g.size())
                        .isCloseTo(loss, org.assertj.core.data.Percentage.withPercentage(1e-4));
                Map<String, INDArray> expected = OptModel.tensorSlice(grads, g.rank(), g.size());
                double maxRel = 0;
                for (String name : expected.keySet()) {
                    double norm = expected.get(name).norm2Number().doubleValue();
                    double diff = expected.get(name).sub(mine.get(name)).norm2Number().doubleValue();
                    assertThat(diff).as("%s on member %d of %d", name, g.rank(), g.size())
                            .isLessThanOrEqualTo(1e-4 * Math.max(norm, 1e-3));
                    maxRel = Math.max(maxRel, diff / Math.max(norm, 1e-3));
                }
                INDArray gathered = Nd4j.createFromArray(slice.nextTokenLogits(rows[0]));
                assertThat(gathered.sub(next).amaxNumber().doubleValue()).as("next-token logits, member %d", g.rank())
                        .isLessThanOrEqualTo(1e-5 * next.amaxNumber().doubleValue());
                return maxRel;
            });
            System.err.println("TP=" + size + " vs 1: worst relative gradient difference per member " + worst);
        }
    }

    /** wte is cut by vocabulary rows, so the vocabulary must divide by the group's size. */
    @Test
    void aVocabularyThatDoesNotDivideIsRefused() {
        ModelConfig cfg = new ModelConfig(2, 4, 16, 6, 30);
        assertThat(OptModel.shapes(cfg, 2).get("wte")).containsExactly(15, 16);
        assertThatThrownBy(() -> OptModel.shapes(cfg, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("vocab 30").hasMessageContaining("tensorParallel 4");
    }

    /**
     * A finite-difference check through the parallel layers, in double precision on a group of 2: for every tensor,
     * the analytic gradient along a random direction (each member its own direction for its slice, the same one for
     * a replicated tensor, whose members are one parameter) matches the central difference of the loss, which every
     * member computes collectively.
     */
    @Test
    void gradientsThroughTheParallelLayersMatchFiniteDifferences() throws Exception {
        OptModel model = whole(DataType.DOUBLE);
        int[][] rows = rows(new Random(4));
        double scale = 1.0 / (rows.length * CFG.seqLen());
        List<Double> worst = ring(2, (ring, config) -> {
            TensorParallel g = new TensorParallel(ring);
            OptModel slice = OptModel.fromParams(CFG, DataType.DOUBLE,
                    OptModel.tensorSlice(model.params(), g.rank(), g.size()), false, g);
            Map<String, INDArray> grads = slice.zeroGradients();
            slice.forwardBackward(rows, 0.1, 42, scale, grads);
            double max = 0;
            int k = 0;
            for (Map.Entry<String, INDArray> e : slice.params().entrySet()) {
                String name = e.getKey();
                INDArray p = e.getValue();
                boolean split = OptModel.splitAxis(name) >= 0;
                Nd4j.getRandom().setSeed(100 + k++ + (split ? 1000L * g.rank() : 0));
                INDArray direction = Nd4j.randn(DataType.DOUBLE, p.shape());
                double[] analytic = {grads.get(name).mul(direction).sumNumber().doubleValue()};
                if (split) {
                    ring.allReduceSum(analytic);   // the directional derivative along every member's direction
                }
                // small enough that no ReLU input crosses 0 within the step on these rows (at 1e-5 one does, on the
                // whole model as on the group, and the difference quotient straddles the kink)
                double eps = 1e-6;
                p.addi(direction.mul(eps));
                double plus = slice.loss(rows, 0.1, 42).lossSum() * scale;
                p.subi(direction.mul(2 * eps));
                double minus = slice.loss(rows, 0.1, 42).lossSum() * scale;
                p.addi(direction.mul(eps));
                double numeric = (plus - minus) / (2 * eps);
                if (name.endsWith("attn.bk")) {
                    // softmax ignores a shift shared by all keys: both are 0 up to roundoff
                    assertThat(Math.abs(analytic[0])).as(name).isLessThan(1e-10);
                    continue;
                }
                double rel = Math.abs(analytic[0] - numeric) / Math.max(1e-7, Math.abs(analytic[0]) + Math.abs(numeric));
                assertThat(rel).as("%s: analytic %s numeric %s", name, analytic[0], numeric).isLessThan(1e-5);
                max = Math.max(max, rel);
            }
            return max;
        });
        System.err.println("TP=2 finite-difference check: worst relative error per member " + worst);
    }

    /** What one member saw: per step the agreed loss and gradient norm, and its final parameters (ZeRO-1 only). */
    record Trace(List<Double> losses, List<Double> norms, Map<String, INDArray> params) {
    }

    /**
     * Two steps of AdamW on a global batch of 4 rows, clipped (clip norm below the gradient norm, so the agreed norm
     * matters): the rows of data rank d are rows [2d, 2d + 2).
     */
    private static Trace train(OptModel model, DataParallel dp, int[][][] batches, int dataRank, int dataSize) {
        Map<String, INDArray> grads = dp.gradients();
        List<Double> losses = new ArrayList<>();
        List<Double> norms = new ArrayList<>();
        double scale = 1.0 / (batches[0].length * CFG.seqLen());
        for (int[][] batch : batches) {
            int per = batch.length / dataSize;
            int[][] mine = java.util.Arrays.copyOfRange(batch, dataRank * per, (dataRank + 1) * per);
            dp.zeroGradients();
            double loss = model.forwardBackward(mine, 0, 0, scale, grads).lossSum();
            DataParallel.Reduced r = dp.reduce(loss, false, 1.0, false, false, false);
            double clip = 0.5 / r.gradNorm();
            dp.step(Optimizer.Kind.ADAMW, model.params(), Math.min(1.0, clip), 1e-2, 0.1, 0.9, 0.95, 1e-8);
            losses.add(r.lossSum() * scale);
            norms.add(r.gradNorm());
        }
        return new Trace(losses, norms, dp.sharding() == TrainConfig.Sharding.ZERO1 ? model.params() : Map.of());
    }

    /**
     * Tensor parallel 2 × data parallel 2 (4 ranks; tensor groups {0, 1}, {2, 3}, data groups {0, 2}, {1, 3}, each a
     * ring of its own split from the world ring) ≡ one rank with the whole batch: the same loss and gradient norm
     * (the norm agreed over both dimensions, which the clipping uses) at each of 2 AdamW steps, and each member's
     * parameters equal to its slice of the single rank's; with ZeRO-1 and with full sharding inside the data groups.
     */
    @Test
    void twoByTwoMatchesOneRank() throws Exception {
        OptModel reference = whole(DataType.FLOAT);
        Map<String, INDArray> initial = new java.util.LinkedHashMap<>();
        reference.params().forEach((n, a) -> initial.put(n, a.dup()));
        Random random = new Random(9);
        int[][][] batches = new int[2][4][];
        for (int[][] batch : batches) {
            for (int b = 0; b < batch.length; b++) {
                batch[b] = rows(random)[b % 3];
                batch[b][0] = random.nextInt(CFG.vocab());
            }
        }
        Trace single;
        try (Collectives alone = DataParallel.join(new Trainer.Launch(null, null, null, null, 0, 1, 1, null, null,
                null), Duration.ofSeconds(30), Duration.ofSeconds(30))) {
            single = train(reference, DataParallel.over(alone, reference.params()), batches, 0, 1);
        }
        for (TrainConfig.Sharding sharding : TrainConfig.Sharding.values()) {
            List<Trace> traces = ring(4, (world, base) -> {
                try (ParallelGroups groups = ParallelGroups.split(world, base, 2, "127.0.0.1")) {
                    assertThat(groups.tensor().rank()).isEqualTo(world.rank() % 2);
                    assertThat(groups.data().rank()).isEqualTo(world.rank() / 2);
                    TensorParallel tp = new TensorParallel(groups.tensor());
                    OptModel slice = OptModel.fromParams(CFG, DataType.FLOAT, OptModel.tensorSlice(initial, tp.rank(), 2),
                            false, tp);
                    DataParallel dp = DataParallel.over(groups.data(), slice.params(), sharding);
                    if (sharding == TrainConfig.Sharding.FSDP) {
                        slice.shard(dp);
                    }
                    dp.acrossTensorGroup(groups.tensor());
                    return train(slice, dp, batches, groups.data().rank(), 2);
                }
            });
            for (int r = 0; r < 4; r++) {
                Trace t = traces.get(r);
                System.err.printf("2x2 %s rank %d: losses %s vs %s, norms %s vs %s%n", sharding.label, r,
                        t.losses(), single.losses(), t.norms(), single.norms());
                for (int step = 0; step < 2; step++) {
                    assertThat(t.losses().get(step)).isCloseTo(single.losses().get(step),
                            org.assertj.core.data.Percentage.withPercentage(1e-4));
                    assertThat(t.norms().get(step)).isCloseTo(single.norms().get(step),
                            org.assertj.core.data.Percentage.withPercentage(1e-2));
                }
                if (sharding == TrainConfig.Sharding.ZERO1) {
                    Map<String, INDArray> expected = OptModel.tensorSlice(single.params(), r % 2, 2);
                    double maxDiff = 0;
                    String worst = null;
                    for (String name : expected.keySet()) {
                        if (name.endsWith("attn.bk")) {
                            // its true gradient is 0 (softmax ignores a shift shared by all keys): what is left is
                            // rounding noise, which Adam's normalised update turns into moves of up to lr a step
                            continue;
                        }
                        double diff = expected.get(name).sub(t.params().get(name)).amaxNumber().doubleValue();
                        if (diff > maxDiff) {
                            maxDiff = diff;
                            worst = name;
                        }
                    }
                    System.err.println("2x2 rank " + r + ": max |param difference| " + maxDiff + " (" + worst + ")");
                    assertThat(maxDiff).isLessThan(2e-5);
                }
            }
        }
    }
}
