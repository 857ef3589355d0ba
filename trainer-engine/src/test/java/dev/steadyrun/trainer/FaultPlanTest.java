package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

/** The test faults read from the {@code debug*} config keys, as the step loop asks them. */
class FaultPlanTest {

    @Test
    void noDebugKeysMeansNoFault() {
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of()));
        for (long step = 0; step < 5; step++) {
            assertThat(plan.hangsAt(step)).isFalse();
            assertThat(plan.lrFactor(step)).isEqualTo(1.0);
        }
    }

    @Test
    void hangsBeforeTheNamedStepOnly() {
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of("debugHangAtStep", "3")));
        assertThat(plan.hangsAt(2)).isFalse();
        assertThat(plan.hangsAt(3)).isTrue();
        assertThat(plan.hangsAt(4)).isFalse();
    }

    @Test
    void multipliesTheLrFromTheNamedStepOn() {
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of("debugDivergeAtStep", "3",
                "debugDivergeLrFactor", "1e5")));
        assertThat(plan.lrFactor(2)).isEqualTo(1.0);
        assertThat(plan.lrFactor(3)).isEqualTo(1e5);
        assertThat(plan.lrFactor(30)).isEqualTo(1e5);
    }
}
