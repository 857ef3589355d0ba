package dev.steadyrun.agent.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGeneratorFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.Reports;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

class SyntheticTrainerTest {

    private static final String SCENARIO = """
            {"stepMillis": 10, "maxSteps": 40, "checkpointEvery": 5, "tokensPerStep": 100,
             "loss": {"initial": 10.0, "floor": 2.0, "halfLifeSteps": 10, "noise": 0},
             "faults": [
               {"node": 1, "atStep": 7, "kind": "crash", "exitCode": 139},
               {"node": 2, "atStep": 3, "kind": "hang"},
               {"node": 3, "atStep": 4, "kind": "divergence"},
               {"node": 4, "atStep": 2, "kind": "xid", "code": 79}
             ]}""";

    private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
    private final ReportBuffer reports = new ReportBuffer(10_000, 10_000);
    private final List<Integer> xids = new CopyOnWriteArrayList<>();
    private final UUID run = UUID.randomUUID();

    @AfterEach
    void tearDown() {
        scheduler.shutdownNow();
    }

    private SyntheticTrainer node(int index) {
        return new SyntheticTrainer(index, "sim-" + index, Scenario.parse(SCENARIO), reports, scheduler,
                Clock.systemUTC(), RandomGeneratorFactory.of("L64X128MixRandom").create(index), xids::add);
    }

    private Assignment assignment(long generation, String restore) {
        return new Assignment(run, 0, 1, generation, Map.of(), restore, null, "ckpt", RestartKnobs.NONE, null, 1, null);
    }

    private static TrainerStatus awaitExit(SyntheticTrainer t) {
        return Await.until("exit", Duration.ofSeconds(10), t::status, s -> s.state() == TrainerState.EXITED);
    }

    private List<TrainerReport> drain() {
        return Reports.drain(reports);
    }

    @Test
    void followsTheLossCurveAndCheckpointsUntilMaxSteps() {
        SyntheticTrainer t = node(0);
        t.apply(DesiredState.RUN, assignment(1, null));
        TrainerStatus exited = awaitExit(t);
        assertThat(exited.exitCode()).isZero();
        assertThat(exited.lastStep()).isEqualTo(40);
        List<TrainerReport> sent = drain();
        List<StepMetrics> steps = sent.stream().flatMap(r -> r.steps().stream()).toList();
        assertThat(steps).hasSize(40);
        assertThat(steps.get(9).loss()).isCloseTo(2.0 + 8.0 / 2, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(sent.stream().flatMap(r -> r.checkpoints().stream()).map(CheckpointWritten::step))
                .containsExactly(5L, 10L, 15L, 20L, 25L, 30L, 35L, 40L);
    }

    @Test
    void aRestoreResumesAtTheCheckpointStep() {
        SyntheticTrainer t = node(0);
        t.apply(DesiredState.RUN, assignment(2, "sim://sim-0/run-x/step-35"));
        awaitExit(t);
        assertThat(drain().stream().flatMap(r -> r.steps().stream()).map(StepMetrics::step))
                .containsExactly(36L, 37L, 38L, 39L, 40L);
    }

    @Test
    void scenarioFaultsHappenOnTheirNodes() {
        assertThat(awaitExitOf(1).exitCode()).isEqualTo(139);

        TrainerStatus hung = awaitExitOf(2);
        assertThat(hung.exitCode()).isEqualTo(137);
        assertThat(hung.lastStep()).isEqualTo(2);
        assertThat(hung.threadDump()).contains("hang watchdog fired");

        TrainerStatus diverged = awaitExitOf(3);
        assertThat(diverged.exitCode()).isEqualTo(4);

        awaitExitOf(4);
        assertThat(xids).containsExactly(79);
        assertThat(drain().stream().flatMap(r -> r.steps().stream()).anyMatch(s -> Double.isNaN(s.loss()))).isTrue();
    }

    @Test
    void stopsOnStopAndNeverRunsTheSameGenerationTwice() {
        SyntheticTrainer t = node(0);
        t.apply(DesiredState.RUN, assignment(1, null));
        t.apply(DesiredState.STOP, null);
        assertThat(t.status().exitCode()).isEqualTo(143);
        t.apply(DesiredState.RUN, assignment(1, null));
        assertThat(t.status().state()).isEqualTo(TrainerState.EXITED);
        t.apply(DesiredState.RUN, assignment(2, null));
        assertThat(t.status().generation()).isEqualTo(2);
        assertThat(t.status().state()).isNotEqualTo(TrainerState.EXITED);
    }

    @Test
    void aBadScenarioNamesWhatIsWrong() {
        assertThatThrownBy(() -> Scenario.parse("""
                {"stepMillis": 0, "checkpointEvery": 5, "loss": {"initial": 1, "floor": 1, "halfLifeSteps": 1},
                 "faults": [{"node": 0, "atStep": 1, "kind": "meteor"}]}"""))
                .hasMessageContaining("stepMillis must be positive")
                .hasMessageContaining("faults[0].kind must be one of [xid, crash, hang, divergence], got 'meteor'");
    }

    private TrainerStatus awaitExitOf(int node) {
        SyntheticTrainer t = node(node);
        t.apply(DesiredState.RUN, assignment(1, null));
        return awaitExit(t);
    }
}
