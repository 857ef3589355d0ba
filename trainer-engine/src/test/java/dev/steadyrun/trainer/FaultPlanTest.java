package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The test faults read from the {@code debug*} config keys and the agent's fault file, as the step loop asks them. */
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

    @Test
    void theFaultFileIsReadOnceAndHangsOrStragglesFromThatStep(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("faults");
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of()), file);
        plan.poll(4, true);
        assertThat(plan.hangsAt(4)).isFalse();
        assertThat(plan.slowdown()).isEqualTo(1.0);

        Files.writeString(file, "straggle\nno-such-fault\n");
        plan.poll(5, true);
        assertThat(file).as("consumed").doesNotExist();
        assertThat(plan.slowdown()).isEqualTo(3.0);

        Files.writeString(file, "hang\n");
        plan.poll(7, true);
        assertThat(plan.hangsAt(7)).isTrue();
    }

    @Test
    void aChaosDivergenceInFp16CollapsesTheLossScaleBeforeTheLrBlowsUp(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("faults");
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of("debugDivergeLrFactor", "1000")), file);
        Files.writeString(file, "diverge\n");
        plan.poll(10, true);
        // the dynamic scaler halves on each overflow: 4, 2, 1, then 0.5
        assertThat(plan.forcesOverflow(10, 4)).isTrue();
        assertThat(plan.lrFactor(10)).isEqualTo(1.0);
        assertThat(plan.forcesOverflow(11, 2)).isTrue();
        assertThat(plan.forcesOverflow(12, 1)).isTrue();
        assertThat(plan.lrFactor(12)).as("no spike while the scale collapses").isEqualTo(1.0);
        assertThat(plan.forcesOverflow(13, 0.5)).isFalse();
        assertThat(plan.lrFactor(13)).isEqualTo(1000.0);
        assertThat(plan.forcesOverflow(14, 4)).as("once collapsed, the overflows are the model's own").isFalse();
        assertThat(plan.lrFactor(40)).isEqualTo(1000.0);
    }

    @Test
    void aChaosDivergenceInFp32RaisesTheLrAtOnce(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("faults");
        FaultPlan plan = FaultPlan.of(TrainConfig.fromMap(Map.of("debugDivergeLrFactor", "1000")), file);
        Files.writeString(file, "diverge\n");
        plan.poll(10, false);
        assertThat(plan.forcesOverflow(10, 1)).isFalse();
        assertThat(plan.lrFactor(9)).isEqualTo(1.0);
        assertThat(plan.lrFactor(10)).isEqualTo(1000.0);
    }
}
