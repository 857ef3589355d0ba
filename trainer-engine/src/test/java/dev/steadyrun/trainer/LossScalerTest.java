package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;

import org.junit.jupiter.api.Test;

class LossScalerTest {

    private static final double MIN = Math.pow(2, -5);

    /** metaseq's OPT defaults. */
    private static LossScaler opt() {
        return new LossScaler(4, 2, 256, MIN);
    }

    private static void clean(LossScaler s, int steps) {
        for (int i = 0; i < steps; i++) {
            assertThat(s.update(false)).isTrue();
        }
    }

    @Test
    void overflowSkipsTheStepHalvesScaleAndWindow() {
        LossScaler s = opt();
        assertThat(s.scale()).isEqualTo(4.0);
        assertThat(s.update(true)).isFalse();
        assertThat(s.state()).isEqualTo(new LossScalerState(2.0, 128, 0, 1));
        clean(s, 5);
        assertThat(s.update(true)).isFalse();
        assertThat(s.state()).isEqualTo(new LossScalerState(1.0, 64, 0, 2));
    }

    @Test
    void growsAfterAWindowOfCleanStepsAndDoublesTheWindow() {
        LossScaler s = opt();
        clean(s, 255);
        assertThat(s.scale()).isEqualTo(4.0);
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(8.0, 512, 256, 0));
    }

    @Test
    void growthCountsCleanStepsSinceTheLastOverflowAsMetaseqDoes() {
        // Growth at 256, 512, 1024, 2048 clean steps since the start: gaps 256, 256, 512, 1024.
        LossScaler s = opt();
        clean(s, 256);
        assertThat(s.scale()).isEqualTo(8.0);
        clean(s, 255);
        assertThat(s.scale()).isEqualTo(8.0);
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(16.0, 1024, 512, 0));
        clean(s, 511);
        assertThat(s.scale()).isEqualTo(16.0);
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(32.0, 2048, 1024, 0));
        // An overflow restarts the count with the halved window.
        s.update(true);
        assertThat(s.state()).isEqualTo(new LossScalerState(16.0, 1024, 0, 1));
        clean(s, 1023);
        assertThat(s.scale()).isEqualTo(16.0);
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(32.0, 2048, 1024, 1));
    }

    @Test
    void windowNeverDropsBelowOne() {
        LossScaler s = new LossScaler(1024, 2, 4, MIN);
        for (int i = 0; i < 5; i++) {
            s.update(true);
        }
        assertThat(s.state()).isEqualTo(new LossScalerState(32.0, 1, 0, 5));
        // Window 1: the first clean step grows (window 2), the second grows again (2 % 2), then every 4th…
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(64.0, 2, 1, 5));
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(128.0, 4, 2, 5));
        clean(s, 1);
        assertThat(s.scale()).isEqualTo(128.0);
        clean(s, 1);
        assertThat(s.state()).isEqualTo(new LossScalerState(256.0, 8, 4, 5));
    }

    @Test
    void scaleStopsAtItsFloorAndEveryOverflowStillSkips() {
        LossScaler s = opt();
        for (int i = 0; i < 7; i++) {
            assertThat(s.update(true)).isFalse();
        }
        assertThat(s.scale()).isEqualTo(MIN);
        for (int i = 0; i < 20; i++) {
            assertThat(s.update(true)).as("overflow at the floor is still skipped").isFalse();
            assertThat(s.scale()).isEqualTo(MIN);
        }
        assertThat(s.state()).isEqualTo(new LossScalerState(MIN, 1, 0, 27));
    }

    @Test
    void aFloorBetweenPowersLeavesTheScaleWhereItWas() {
        // metaseq restores the previous scale instead of clamping: 3 → 1.5, then 0.75 < 1 is refused.
        LossScaler s = new LossScaler(3, 2, 8, 1);
        s.update(true);
        s.update(true);
        s.update(true);
        assertThat(s.state()).isEqualTo(new LossScalerState(1.5, 1, 0, 3));
    }

    @Test
    void restoreContinuesExactlyLikeTheOriginal() {
        Random random = new Random(42);
        LossScaler original = opt();
        for (int i = 0; i < 5000; i++) {
            original.update(random.nextInt(100) < 2);
        }
        LossScalerState saved = original.state();
        LossScaler restored = LossScaler.restore(4, 2, 256, MIN, saved);
        assertThat(restored.state()).isEqualTo(saved);
        assertThat(restored.scale()).isEqualTo(original.scale());
        for (int i = 0; i < 5000; i++) {
            boolean overflow = random.nextInt(100) < 2;
            assertThat(restored.update(overflow)).isEqualTo(original.update(overflow));
            assertThat(restored.state()).isEqualTo(original.state());
        }
        // reset() goes back to the configured start, not to the restored state.
        restored.reset();
        assertThat(restored.state()).isEqualTo(new LossScalerState(4.0, 256, 0, original.state().overflows()));
    }

    @Test
    void resetReturnsToTheInitialScaleAndWindowAndKeepsTheOverflowTotal() {
        LossScaler s = opt();
        for (int i = 0; i < 9; i++) {
            s.update(true);
        }
        clean(s, 3);
        s.reset();
        assertThat(s.state()).isEqualTo(new LossScalerState(4.0, 256, 0, 9));
        clean(s, 256);
        assertThat(s.scale()).isEqualTo(8.0);
    }

    @Test
    void rejectsBadArgumentsNamingThem() {
        assertThatThrownBy(() -> new LossScaler(0, 2, 256, MIN)).hasMessageContaining("initScale");
        assertThatThrownBy(() -> new LossScaler(4, 1, 256, MIN)).hasMessageContaining("factor");
        assertThatThrownBy(() -> new LossScaler(4, 2, 0, MIN)).hasMessageContaining("window");
        assertThatThrownBy(() -> new LossScaler(4, 2, 256, 0)).hasMessageContaining("minScale");
        assertThatThrownBy(() -> new LossScaler(4, 2, 256, 8)).hasMessageContaining("minScale");
        assertThatThrownBy(() -> LossScaler.restore(4, 2, 256, MIN, new LossScalerState(Double.NaN, 1, 0, 0)))
                .hasMessageContaining("state.scale");
        assertThatThrownBy(() -> LossScaler.restore(4, 2, 256, MIN, new LossScalerState(1, 0, 0, 0)))
                .hasMessageContaining("state.window");
        assertThatThrownBy(() -> LossScaler.restore(4, 2, 256, MIN, new LossScalerState(1, 1, -1, 0)))
                .hasMessageContaining("state.cleanSteps");
        assertThatThrownBy(() -> LossScaler.restore(4, 2, 256, MIN, new LossScalerState(1, 1, 0, -1)))
                .hasMessageContaining("state.overflows");
    }
}
