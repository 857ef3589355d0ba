package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

class DivergenceDetectorTest {

    private final RecoveryPolicy policy = RecoveryPolicy.DEFAULT;

    private static StepMetrics step(long step, double loss, double gradNorm, double scale, boolean overflow) {
        return new StepMetrics(step, step * 4096, loss, gradNorm, scale, overflow, 1e-4, 10_000, 400, 1 << 30, List.of());
    }

    /** A healthy run: loss decaying from ~10 towards 2 with ±5% noise, gradient norms with ±30% noise. */
    private static List<StepMetrics> healthyRun(int steps, long seed) {
        Random random = new Random(seed);
        List<StepMetrics> run = new ArrayList<>();
        double scale = 65536;
        for (int s = 1; s <= steps; s++) {
            double loss = (2 + 8 * Math.exp(-s / 200.0)) * (1 + 0.05 * random.nextGaussian());
            double norm = (0.5 + 2 * Math.exp(-s / 100.0)) * (1 + 0.3 * random.nextGaussian());
            // the scaler calibrates at start (4 overflows), then overflows once per growth interval
            boolean overflow = s <= 4 || s % 500 == 0;
            if (overflow) {
                scale /= 2;
            } else if (s % 250 == 0) {
                scale *= 2;
            }
            run.add(step(s, loss, overflow ? Double.POSITIVE_INFINITY : Math.abs(norm), scale, overflow));
        }
        return run;
    }

    private static Optional<Divergence> feed(DivergenceDetector detector, List<StepMetrics> metrics) {
        Optional<Divergence> first = Optional.empty();
        for (StepMetrics m : metrics) {
            Optional<Divergence> d = detector.accept(m);
            if (d.isPresent() && first.isEmpty()) {
                first = d;
            }
        }
        return first;
    }

    @Test
    void noFalseAlarmOnHealthyNoisyRuns() {
        for (long seed = 1; seed <= 5; seed++) {
            DivergenceDetector detector = new DivergenceDetector(policy);
            assertThat(feed(detector, healthyRun(3000, seed))).as("seed %d", seed).isEmpty();
        }
    }

    @Test
    void spikeAtStepKHasOnsetKAndIsCalledOnThatReport() {
        List<StepMetrics> run = healthyRun(600, 7);
        DivergenceDetector detector = new DivergenceDetector(policy);
        assertThat(feed(detector, run.subList(0, 499))).isEmpty();
        StepMetrics prior = run.get(498);
        Optional<Divergence> d = detector.accept(step(500, prior.loss() * 3, 0.6, prior.lossScale(), false));
        assertThat(d).hasValueSatisfying(v -> {
            assertThat(v.kind()).isEqualTo(Divergence.Kind.LOSS_SPIKE);
            assertThat(v.onsetStep()).isEqualTo(500);
            assertThat(v.detectedAt()).isEqualTo(500);
            assertThat(v.evidence()).hasSize(policy.evidenceWindow());
            assertThat(v.evidence().get(v.evidence().size() - 1).step()).isEqualTo(500);
            assertThat(v.reason()).contains("weighted mean");
        });
        // one incident per divergence: later reports add nothing, the verdict stays readable
        assertThat(detector.accept(step(501, Double.NaN, 1, 1, false))).isEmpty();
        assertThat(detector.divergence()).map(Divergence::kind).contains(Divergence.Kind.LOSS_SPIKE);
    }

    @Test
    void nonFiniteLossIsCalledImmediatelyEvenDuringWarmUp() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        assertThat(detector.accept(step(1, 10.9, 3, 65536, false))).isEmpty();
        assertThat(detector.accept(step(2, 10.5, 3, 65536, false))).isEmpty();
        assertThat(detector.accept(step(3, Double.NaN, 3, 65536, false)))
                .hasValueSatisfying(d -> {
                    assertThat(d.kind()).isEqualTo(Divergence.Kind.NON_FINITE_LOSS);
                    assertThat(d.onsetStep()).isEqualTo(3);
                    assertThat(d.evidence()).extracting(StepMetrics::step).containsExactly(1L, 2L, 3L);
                });
    }

    @Test
    void noSpikeVerdictDuringWarmUp() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        double[] wild = {10, 4, 11, 3, 12, 2.5, 13, 3, 11, 4};
        for (int i = 0; i < wild.length; i++) {
            assertThat(detector.accept(step(i + 1, wild[i], 5 * (i + 1), 65536, false))).as("step %d", i + 1).isEmpty();
        }
    }

    @Test
    void warmUpCountsStepsNotReportsWhenEveryRankReports() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        int ranks = 4;
        long s = 1;
        // 10 steps × 4 ranks = 40 reports, but only 10 steps: still warming up
        for (; s <= 10; s++) {
            for (int r = 0; r < ranks; r++) {
                assertThat(detector.accept(step(s, 3.0 + 0.01 * r, 1, 65536, false))).isEmpty();
            }
        }
        assertThat(detector.accept(step(s, 9.0, 1, 65536, false))).isEmpty();
        for (s++; s <= 30; s++) {
            for (int r = 0; r < ranks; r++) {
                assertThat(detector.accept(step(s, 3.0 + 0.01 * r, 1, 65536, false))).isEmpty();
            }
        }
        // past warm-up, rank 2 alone shows the spike: the first report that shows it is enough
        assertThat(detector.accept(step(s, 3.0, 1, 65536, false))).isEmpty();
        assertThat(detector.accept(step(s, 3.0, 1, 65536, false))).isEmpty();
        assertThat(detector.accept(step(s, 9.0, 1, 65536, false)))
                .map(Divergence::onsetStep).contains(s);
    }

    @Test
    void lossScaleBelowOneIsACollapse() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        double[] scales = {16, 8, 4, 2, 1, 0.5};
        for (int i = 0; i < scales.length - 1; i++) {
            assertThat(detector.accept(step(100 + i, 3, 1, scales[i], true))).isEmpty();
        }
        assertThat(detector.accept(step(105, 3, 1, 0.5, true))).hasValueSatisfying(d -> {
            assertThat(d.kind()).isEqualTo(Divergence.Kind.LOSS_SCALE_COLLAPSE);
            assertThat(d.onsetStep()).isEqualTo(105);
        });
    }

    @Test
    void overflowRateAboveTheBoundOverTheWindowStartsAtTheFirstOverflowInIt() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        assertThat(feed(detector, healthyRun(299, 3))).isEmpty();
        Optional<Divergence> found = Optional.empty();
        long s = 300;
        // every other step overflows from step 300 on; the scaler keeps recovering so the scale stays ≥ 1
        for (; found.isEmpty() && s < 400; s++) {
            found = detector.accept(step(s, 2.5, s % 2 == 0 ? Double.POSITIVE_INFINITY : 0.6, 1024, s % 2 == 0));
        }
        // 21 overflows (300, 302, … 340) are the first count above 0.2 × 100
        assertThat(found).hasValueSatisfying(d -> {
            assertThat(d.kind()).isEqualTo(Divergence.Kind.OVERFLOW_RATE);
            assertThat(d.detectedAt()).isEqualTo(340);
            assertThat(d.onsetStep()).isEqualTo(300);
        });
    }

    @Test
    void overflowsSpreadOverMoreThanTheWindowAreNotARate() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        // one overflow every 6 steps: 17 per 100-step window, under 20
        for (long s = 1; s <= 1000; s++) {
            boolean overflow = s % 6 == 0;
            assertThat(detector.accept(step(s, 2.5, overflow ? Double.NaN : 0.6, 1024, overflow))).isEmpty();
        }
    }

    @Test
    void gradientNormExplosionAfterWarmUp() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        assertThat(feed(detector, healthyRun(400, 11))).isEmpty();
        assertThat(detector.accept(step(401, 2.4, 50, 65536, false))).hasValueSatisfying(d -> {
            assertThat(d.kind()).isEqualTo(Divergence.Kind.GRAD_NORM_EXPLOSION);
            assertThat(d.onsetStep()).isEqualTo(401);
        });
    }

    @Test
    void infiniteGradientNormOnAStepThatDidNotOverflowIsAnExplosion() {
        DivergenceDetector detector = new DivergenceDetector(policy);
        assertThat(detector.accept(step(1, 10, 3, 1, false))).isEmpty();
        assertThat(detector.accept(step(2, 10, Double.POSITIVE_INFINITY, 1, false)))
                .map(Divergence::kind).contains(Divergence.Kind.GRAD_NORM_EXPLOSION);
    }
}
