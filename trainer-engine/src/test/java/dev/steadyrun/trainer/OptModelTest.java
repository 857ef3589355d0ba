package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class OptModelTest {

    private static final ModelConfig TINY = new ModelConfig(2, 2, 8, 5, 13);

    /**
     * Whole-model finite-difference check in double precision: for every parameter tensor, the analytic gradient
     * projected on a random direction must match the central difference of the loss along that direction, and a
     * few single entries of the (tied) embedding and of a bias are checked one by one. Dropout is on (its masks
     * are fixed by the seed), and the batch repeats token ids so the embedding scatter-add is exercised.
     */
    @Test
    void gradientsMatchFiniteDifferencesInDoublePrecision() {
        OptModel model = OptModel.initialize(TINY, DataType.DOUBLE, 7, false);
        Random random = new Random(3);
        // move away from the initial point, where most gradients are tiny and LayerNorm gains are all 1
        model.params().values().forEach(p -> {
            if (p.rank() == 2) {
                p.muli(30);
            } else {
                p.addi(Nd4j.randn(DataType.DOUBLE, p.shape()).muli(0.1));
            }
        });
        int[][] rows = new int[2][TINY.seqLen() + 1];
        for (int[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = random.nextInt(TINY.vocab());
            }
        }
        rows[1][2] = rows[0][0];
        rows[1][3] = rows[0][0];
        double scale = 1.0 / (2 * TINY.seqLen());
        Map<String, INDArray> grads = model.zeroGradients();
        double loss = model.forwardBackward(rows, 0.1, 42, scale, grads).lossSum() * scale;
        assertThat(loss).isBetween(0.5, 20.0);

        double worst = 0;
        Nd4j.getRandom().setSeed(11);
        for (Map.Entry<String, INDArray> e : model.params().entrySet()) {
            INDArray p = e.getValue();
            INDArray direction = Nd4j.randn(DataType.DOUBLE, p.shape());
            direction.divi(direction.norm2Number());
            double analytic = grads.get(e.getKey()).mul(direction).sumNumber().doubleValue();
            double eps = 1e-5;
            p.addi(direction.mul(eps));
            double plus = lossOf(model, rows, scale);
            p.subi(direction.mul(2 * eps));
            double minus = lossOf(model, rows, scale);
            p.addi(direction.mul(eps));
            double numeric = (plus - minus) / (2 * eps);
            if (e.getKey().endsWith("attn.bk")) {
                // The key bias's true gradient is exactly 0 (softmax ignores a shift shared by all keys): both sides
                // must be zero up to roundoff, which a central difference cannot resolve below ~ulp(loss)/eps ≈ 1e-10.
                assertThat(Math.abs(analytic)).as("%s analytic", e.getKey()).isLessThan(1e-12);
                assertThat(Math.abs(numeric)).as("%s numeric", e.getKey()).isLessThan(1e-9);
                continue;
            }
            double rel = Math.abs(analytic - numeric) / Math.max(1e-7, Math.abs(analytic) + Math.abs(numeric));
            assertThat(rel).as("%s: analytic %s numeric %s", e.getKey(), analytic, numeric).isLessThan(1e-5);
            worst = Math.max(worst, rel);
        }
        for (String name : new String[]{"wte", "wpe", "h1.attn.bq", "h0.mlp.b1"}) {
            INDArray p = model.params().get(name);
            long[] entries = name.equals("wte") ? new long[]{rows[0][0] * 8L, rows[0][0] * 8L + 5, 3} : new long[]{0, 7};
            for (long i : entries) {
                double original = p.getDouble(i);
                double eps = 1e-5;
                p.putScalar(i, original + eps);
                double plus = lossOf(model, rows, scale);
                p.putScalar(i, original - eps);
                double minus = lossOf(model, rows, scale);
                p.putScalar(i, original);
                double numeric = (plus - minus) / (2 * eps);
                double analytic = grads.get(name).getDouble(i);
                assertThat(analytic).as("%s[%d]", name, i).isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
            }
        }
        System.err.println("finite-difference check: worst relative error " + worst);
    }

    private static double lossOf(OptModel model, int[][] rows, double scale) {
        return model.loss(rows, 0.1, 42).lossSum() * scale;
    }

    @Test
    void uniformLogitsGiveLogVocabularyLoss() {
        OptModel model = OptModel.initialize(TINY, DataType.DOUBLE, 1, false);
        model.params().get("wte").assign(0);
        int[][] rows = {{1, 2, 3, 4, 5, 6}};
        OptModel.Pass pass = model.loss(rows);
        assertThat(pass.tokens()).isEqualTo(5);
        assertThat(pass.lossSum() / pass.tokens()).isCloseTo(Math.log(13), within(1e-12));
    }

    /** normal(0, 0.006); residual output projections 0.006/√(2L); biases 0; LayerNorm gains 1. */
    @Test
    void initializationFollowsOpt() {
        ModelConfig cfg = new ModelConfig(4, 4, 256, 64, 1000);
        OptModel model = OptModel.initialize(cfg, DataType.FLOAT, 5, false);
        assertThat(model.parameterCount()).isEqualTo(cfg.parameterCount());
        double residual = 0.006 / Math.sqrt(2 * 4);
        model.params().forEach((name, p) -> {
            double[] v = p.dup().data().asDouble();
            if (p.rank() == 2) {
                double expected = OptModel.isResidualProjection(name) ? residual : 0.006;
                double mean = 0;
                for (double x : v) {
                    mean += x;
                }
                mean /= v.length;
                double var = 0;
                int withinOneSigma = 0;
                for (double x : v) {
                    var += (x - mean) * (x - mean);
                    withinOneSigma += Math.abs(x) <= expected ? 1 : 0;
                }
                double std = Math.sqrt(var / (v.length - 1));
                // five standard errors: mean ± 5σ/√n, sample std ± 5σ/√(2n)
                assertThat(mean).as(name + " mean").isCloseTo(0, within(5 * expected / Math.sqrt(v.length)));
                assertThat(std).as(name + " std").isCloseTo(expected, within(5 * expected / Math.sqrt(2.0 * v.length)));
                // a normal puts 68.27% of its mass within one sigma
                assertThat(withinOneSigma / (double) v.length).as(name + " shape")
                        .isCloseTo(0.6827, within(5 * Math.sqrt(0.6827 * 0.3173 / v.length)));
            } else if (name.endsWith(".g")) {
                assertThat(v).as(name).containsOnly(1.0);
            } else {
                assertThat(v).as(name).containsOnly(0.0);
            }
        });
    }

    @Test
    void weightDecayAppliesToMatricesOnly() {
        OptModel model = OptModel.initialize(TINY, DataType.FLOAT, 1, false);
        model.params().forEach((name, p) -> assertThat(OptModel.isDecayed(p)).as(name)
                .isEqualTo(name.equals("wte") || name.equals("wpe") || name.contains(".w")));
    }
}
