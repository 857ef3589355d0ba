package dev.steadyrun.orchestrator.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

class NodeDirectivesTest {

    private static final LeaseTimings TIMINGS = LeaseTimings.DEFAULT;
    private final UUID node = UUID.randomUUID();
    private final UUID spareNode = UUID.randomUUID();
    private final UUID run = UUID.randomUUID();
    private final List<Object> published = new java.util.ArrayList<>();
    private final NodeDirectives directives = new NodeDirectives(published::add);

    private Assignment assignment(long generation) {
        return new Assignment(run, 0, 2, generation, Map.of("model", "tiny"), null, null, "/ckpt/" + run,
                RestartKnobs.NONE, "host-a:29500", 600, RingSecret.random());
    }

    private void place(RunState state, long generation) {
        directives.install(Map.of(node, new NodeWork(run, state, generation, assignment(generation)),
                spareNode, new NodeWork(run, state, generation, null)));
    }

    private static TrainerStatus trainer(TrainerState state, UUID runId, long generation) {
        return new TrainerStatus(state, runId, 0, generation, null, 10, List.of(), null);
    }

    private DesiredState desired(UUID nodeId, TrainerStatus status) {
        return directives.directivesFor(nodeId, status, TIMINGS).desired();
    }

    @Test
    void unplacedNodesIdleAndStopStrayTrainers() {
        assertThat(desired(node, TrainerStatus.idle())).isEqualTo(DesiredState.IDLE);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.STOP);
        assertThat(directives.drainStopsConfirmed()).isEmpty();
    }

    @Test
    void aRankOfALiveRunGetsItsAssignment() {
        place(RunState.STARTING, 1);
        HeartbeatResponse answer = directives.directivesFor(node, TrainerStatus.idle(), TIMINGS);
        assertThat(answer.desired()).isEqualTo(DesiredState.RUN);
        assertThat(answer.assignment().generation()).isEqualTo(1);
        assertThat(answer.timings()).isEqualTo(TIMINGS);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.RUN);
        assertThat(desired(spareNode, TrainerStatus.idle())).isEqualTo(DesiredState.IDLE);
    }

    @Test
    void aTrainerOfAnOlderGenerationOrAnotherRunIsStopped() {
        place(RunState.RUNNING, 2);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.STOP);
        assertThat(desired(node, trainer(TrainerState.STARTING, UUID.randomUUID(), 2))).isEqualTo(DesiredState.STOP);
        // an exited trainer of the old generation is no threat: start the new one
        assertThat(desired(node, trainer(TrainerState.EXITED, run, 1))).isEqualTo(DesiredState.RUN);
    }

    @Test
    void aFencedGenerationIsStoppedEvenWhenTheSnapshotLagsBehind() {
        place(RunState.RUNNING, 1); // another replica already placed generation 2
        directives.fence(node, run, 1);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.STOP);
        // once the node runs a newer trainer the fence is dropped
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 2))).isEqualTo(DesiredState.RUN);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.RUN);
    }

    @Test
    void aTrainerThatFinishedTheRunIsNotRelaunched() {
        place(RunState.RUNNING, 2);
        TrainerStatus done = new TrainerStatus(TrainerState.EXITED, run, 0, 2, 0, 500, List.of(), null);
        assertThat(desired(node, done)).isEqualTo(DesiredState.IDLE);
        assertThat(directives.drainStopsConfirmed()).containsExactly(new NodeDirectives.StopConfirmed(node, run, 2, true));
        // a crash (non-zero exit) is the recovery's business: no relaunch at this generation, recovery is told
        TrainerStatus crashed = new TrainerStatus(TrainerState.EXITED, run, 0, 2, 1, 500, List.of("boom"), null);
        assertThat(desired(node, crashed)).isEqualTo(DesiredState.IDLE);
        assertThat(published).contains(new NodeDirectives.TrainerExited(node, run, 0, 2, 1, 500, List.of("boom"), null));
        // a watchdog's thread dump that arrives once the run stopped still reaches recovery, as evidence
        place(RunState.RECOVERING, 2);
        published.clear();
        TrainerStatus dumped = new TrainerStatus(TrainerState.EXITED, run, 0, 2, 137, 500, List.of(), "Full thread dump");
        assertThat(desired(node, dumped)).isEqualTo(DesiredState.IDLE);
        assertThat(published).contains(new NodeDirectives.TrainerExited(node, run, 0, 2, 137, 500, List.of(),
                "Full thread dump"));
        place(RunState.RUNNING, 2);
        // an old generation's clean exit finishes nothing
        assertThat(desired(node, new TrainerStatus(TrainerState.EXITED, run, 0, 1, 0, 500, List.of(), null)))
                .isEqualTo(DesiredState.RUN);
    }

    @Test
    void stoppingRunsGetStopThenIdleWhichConfirmsTheStop() {
        place(RunState.PAUSING, 1);
        assertThat(desired(node, trainer(TrainerState.RUNNING, run, 1))).isEqualTo(DesiredState.STOP);
        assertThat(directives.drainStopsConfirmed()).isEmpty();
        assertThat(desired(node, trainer(TrainerState.EXITED, run, 1))).isEqualTo(DesiredState.IDLE);
        assertThat(desired(node, trainer(TrainerState.EXITED, run, 1))).isEqualTo(DesiredState.IDLE);
        NodeDirectives.StopConfirmed stop = new NodeDirectives.StopConfirmed(node, run, 1, false);
        assertThat(published).containsExactly(stop); // once, though confirmed twice
        assertThat(directives.drainStopsConfirmed()).containsExactly(stop);
        assertThat(directives.drainStopsConfirmed()).isEmpty();
    }
}
