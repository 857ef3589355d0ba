package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LrScheduleTest {

    // OPT-175B: 2000 warm-up steps, peak 1.2e-4, batch 2M tokens (1024 × 2048), decay to 10% over 300B tokens.
    private static final long OPT_175B_BATCH = 1024L * 2048;
    private static final LrSchedule OPT_175B = new LrSchedule(1.2e-4, 2000, 0, 300_000_000_000L, 0.1);
    // The smaller OPT models: warm-up over 375M tokens (125M: peak 6e-4).
    private static final LrSchedule OPT_125M = new LrSchedule(6e-4, 0, 375_000_000L, 300_000_000_000L, 0.1);

    @Test
    void stepWarmupStartsAtZeroAndReachesPeakAtItsEnd() {
        assertThat(OPT_175B.at(0, 0)).isEqualTo(0.0);
        assertThat(OPT_175B.at(1000, 1000 * OPT_175B_BATCH)).isCloseTo(0.6e-4, within(1e-18));
        assertThat(OPT_175B.at(2000, 2000 * OPT_175B_BATCH)).isEqualTo(1.2e-4);
    }

    @Test
    void stepWarmupDecaysLikeMetaseqPolynomialDecayOverUpdates() {
        // metaseq: lr(u) = end + (peak - end) × (1 - (u - w) / (T - w)) with T the last update of the budget.
        double peak = 1.2e-4;
        double end = 0.1 * peak;
        double lastUpdate = 300_000_000_000.0 / OPT_175B_BATCH;
        for (long u = 2000; u < (long) lastUpdate; u += 7919) {
            double expected = end + (peak - end) * (1 - (u - 2000) / (lastUpdate - 2000));
            assertThat(OPT_175B.at(u, u * OPT_175B_BATCH)).isCloseTo(expected, within(1e-15));
        }
    }

    @Test
    void reachesTenPercentAtTheBudgetAndStaysFlat() {
        assertThat(OPT_175B.at(143_052, 300_000_000_000L)).isCloseTo(1.2e-5, within(1e-18));
        assertThat(OPT_175B.at(200_000, 400_000_000_000L)).isCloseTo(1.2e-5, within(1e-18));
        assertThat(OPT_125M.at(10, 300_000_000_000L)).isCloseTo(6e-5, within(1e-18));
        assertThat(OPT_125M.at(10, 900_000_000_000L)).isCloseTo(6e-5, within(1e-18));
    }

    @Test
    void tokenWarmupIgnoresTheStepCount() {
        assertThat(OPT_125M.at(0, 0)).isEqualTo(0.0);
        assertThat(OPT_125M.at(0, 187_500_000L)).isCloseTo(3e-4, within(1e-18));
        assertThat(OPT_125M.at(5, 187_500_000L)).isEqualTo(OPT_125M.at(99_999, 187_500_000L));
        assertThat(OPT_125M.at(700, 375_000_000L)).isEqualTo(6e-4);
        double midDecay = (375_000_000L + 300_000_000_000L) / 2;
        assertThat(OPT_125M.at(1, (long) midDecay)).isCloseTo(6e-4 * 0.55, within(1e-15));
    }

    @Test
    void warmupStepsTakePrecedenceOverWarmupTokens() {
        LrSchedule bySteps = new LrSchedule(1e-3, 100, 1_000_000, 10_000_000, 0.1);
        LrSchedule byTokens = new LrSchedule(1e-3, 0, 1_000_000, 10_000_000, 0.1);
        // 1000 tokens per step: at step 50 the step warm-up is half done, the token warm-up 5% done.
        assertThat(bySteps.at(50, 50_000)).isCloseTo(5e-4, within(1e-18));
        assertThat(byTokens.at(50, 50_000)).isCloseTo(5e-5, within(1e-18));
        assertThat(bySteps.at(100, 100_000)).isEqualTo(1e-3);
        assertThat(byTokens.at(1000, 1_000_000)).isEqualTo(1e-3);
    }

    @Test
    void noWarmupStartsAtPeak() {
        LrSchedule none = new LrSchedule(2e-4, 0, 0, 1000, 0.1);
        assertThat(none.at(0, 0)).isEqualTo(2e-4);
        assertThat(none.at(3, 500)).isCloseTo(2e-4 * 0.55, within(1e-18));
    }

    @Test
    void eachPieceIsMonotonic() {
        for (LrSchedule s : new LrSchedule[] {OPT_175B, OPT_125M}) {
            long batch = OPT_175B_BATCH;
            long warmupEnd = s.warmupSteps() > 0 ? s.warmupSteps() : s.warmupTokens() / batch + 1;
            double previous = -1;
            for (long step = 0; step <= warmupEnd; step++) {
                double lr = s.at(step, step * batch);
                assertThat(lr).as("warm-up step %d", step).isGreaterThanOrEqualTo(previous);
                previous = lr;
            }
            for (long step = warmupEnd; step <= 200_000; step += 97) {
                double lr = s.at(step, step * batch);
                assertThat(lr).as("decay step %d", step).isLessThanOrEqualTo(previous).isGreaterThanOrEqualTo(
                        s.finalRatio() * s.peakLr() - 1e-18);
                previous = lr;
            }
        }
    }

    @Test
    void rejectsBadArgumentsNamingThem() {
        assertThatThrownBy(() -> new LrSchedule(0, 10, 0, 100, 0.1)).hasMessageContaining("peakLr");
        assertThatThrownBy(() -> new LrSchedule(Double.NaN, 10, 0, 100, 0.1)).hasMessageContaining("peakLr");
        assertThatThrownBy(() -> new LrSchedule(1e-4, -1, 0, 100, 0.1)).hasMessageContaining("warmupSteps");
        assertThatThrownBy(() -> new LrSchedule(1e-4, 0, -1, 100, 0.1)).hasMessageContaining("warmupTokens");
        assertThatThrownBy(() -> new LrSchedule(1e-4, 0, 100, 100, 0.1)).hasMessageContaining("warmupTokens")
                .hasMessageContaining("decayTokens");
        assertThatThrownBy(() -> new LrSchedule(1e-4, 10, 0, 0, 0.1)).hasMessageContaining("decayTokens");
        assertThatThrownBy(() -> new LrSchedule(1e-4, 10, 0, 100, 1.5)).hasMessageContaining("finalRatio");
        assertThatThrownBy(() -> new LrSchedule(1e-4, 10, 0, 100, -0.1)).hasMessageContaining("finalRatio");
        assertThatThrownBy(() -> OPT_175B.at(-1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("step");
        assertThatThrownBy(() -> OPT_175B.at(0, -1)).hasMessageContaining("tokensSeen");
    }
}
