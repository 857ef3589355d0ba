package dev.steadyrun.orchestrator.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.orchestrator.scheduling.SchedulingLoop;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * The chaos API in the shared test context, where it is enabled: an admin's request becomes a fault in the heartbeat
 * answer of the node holding the rank, once, and a row in the run's events; everyone else, and a run that is not
 * running, is refused with a problem detail.
 */
class ChaosApiTest extends RunsApiSupport {

    @Autowired
    SchedulingLoop scheduling;

    @Test
    void anAdminsFaultReachesTheRanksNodeOnceAndIsInTheRunsEvents() {
        String operator = token("OPERATOR");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        Reply submitted = call("POST", "/api/v1/runs", operator, tinyRun(rack, 2, 0));
        UUID runId = UUID.fromString(submitted.body().get("id").asString());

        Reply early = call("POST", "/api/v1/runs/" + runId + "/chaos", ADMIN_TOKEN, Map.of("action", "HANG"));
        assertThat(early.status()).as("not running yet: " + early.raw().body()).isEqualTo(409);
        assertThat(early.raw().headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");

        scheduling.runOnce();
        awaitState(operator, runId, RunState.STARTING);
        Agent[] byRank = new Agent[2];
        for (Agent a : agents) {
            HeartbeatResponse answer = heartbeat(a, TrainerStatus.idle());
            assertThat(answer.desired()).isEqualTo(DesiredState.RUN);
            assertThat(answer.chaos()).isNullOrEmpty();
            byRank[answer.assignment().rank()] = a;
        }
        long generation = 1;
        List<StepMetrics> steps = new ArrayList<>();
        for (long s = 1; s <= 4; s++) {
            steps.add(new StepMetrics(s, s * 1024, 3.0, 0.5, 4.0, false, 1e-3, 500, 1000, 1 << 30, List.of()));
        }
        Reply report = call("POST", "/api/v1/agents/" + byRank[0].id() + "/reports", byRank[0].credential(),
                new TrainerReport(runId, 0, generation, steps, List.of()));
        assertThat(report.status()).as(report.raw().body()).isEqualTo(204);
        awaitState(operator, runId, RunState.RUNNING);

        assertThat(call("POST", "/api/v1/runs/" + runId + "/chaos", operator, Map.of("action", "HANG")).status())
                .as("admins only").isEqualTo(403);
        Reply noRank = call("POST", "/api/v1/runs/" + runId + "/chaos", ADMIN_TOKEN,
                Map.of("action", "HANG", "rank", 5));
        assertThat(noRank.status()).isEqualTo(422);
        assertThat(noRank.body().path("field").asString()).isEqualTo("rank");
        Reply noCheckpoint = call("POST", "/api/v1/runs/" + runId + "/chaos", ADMIN_TOKEN,
                Map.of("action", "CORRUPT_CHECKPOINT"));
        assertThat(noCheckpoint.status()).as(noCheckpoint.raw().body()).isEqualTo(409);

        Reply asked = call("POST", "/api/v1/runs/" + runId + "/chaos", ADMIN_TOKEN,
                Map.of("action", "DIVERGE", "rank", 1));
        assertThat(asked.status()).as(asked.raw().body()).isEqualTo(202);
        assertThat(asked.body().path("nodeName").asString()).isEqualTo(byRank[1].name());
        assertThat(asked.body().path("requestedBy").asString()).startsWith("operator:");

        assertThat(heartbeat(byRank[0], running(runId, 0)).chaos()).as("not rank 0's").isNullOrEmpty();
        HeartbeatResponse answer = heartbeat(byRank[1], running(runId, 1));
        assertThat(answer.chaos()).singleElement().satisfies(f -> {
            assertThat(f.kind()).isEqualTo(ChaosFault.Kind.DIVERGE);
            assertThat(f.runId()).isEqualTo(runId);
            assertThat(f.rank()).isEqualTo(1);
            assertThat(f.generation()).isEqualTo(generation);
            assertThat(f.id()).isEqualTo(asked.body().path("id").asLong());
        });
        assertThat(answer.desired()).as("the answer is otherwise the usual one").isEqualTo(DesiredState.RUN);
        assertThat(heartbeat(byRank[1], running(runId, 1)).chaos()).as("handed over once").isNullOrEmpty();

        // corrupt-checkpoint goes to rank 0, the writer, naming the newest checkpoint's directory only
        call("POST", "/api/v1/agents/" + byRank[0].id() + "/reports", byRank[0].credential(),
                new TrainerReport(runId, 0, generation, List.of(), List.of(new CheckpointWritten(4, 4096,
                        checkpointPath(runId, 4), 4.0, 3.0, "sha4", 10))));
        Reply corrupt = call("POST", "/api/v1/runs/" + runId + "/chaos", ADMIN_TOKEN,
                Map.of("action", "CORRUPT_CHECKPOINT", "rank", 1));
        assertThat(corrupt.status()).as(corrupt.raw().body()).isEqualTo(202);
        assertThat(corrupt.body().path("rank").asInt()).isZero();
        assertThat(heartbeat(byRank[0], running(runId, 0)).chaos()).singleElement()
                .satisfies(f -> assertThat(f.checkpoint()).isEqualTo("step-4"));

        List<String> events = new ArrayList<>();
        call("GET", "/api/v1/runs/" + runId + "/events", operator, null).body()
                .forEach(e -> events.add(e.path("actor").asString() + " " + e.path("reason").asString()));
        assertThat(events).anySatisfy(e -> assertThat(e).startsWith("operator:").contains("chaos #")
                .contains("DIVERGE on rank 1 (node " + byRank[1].name() + ", generation 1)"));
        assertThat(events).anySatisfy(e -> assertThat(e).contains("CORRUPT_CHECKPOINT on rank 0")
                .contains("checkpoint step-4"));
    }

    @Test
    void offByDefaultItAnswers404BeforeLookingAtAnything() {
        ChaosService off = new ChaosService(new ChaosProperties(false), null, null, null, null, null, clock);
        assertThatThrownBy(() -> off.inject(UUID.randomUUID(), ChaosFault.Kind.KILL_NODE, 0, "operator:admin"))
                .isInstanceOf(NotFoundException.class).hasMessageContaining("steadyrun.chaos.enabled=true");
        assertThat(off.takeFor(UUID.randomUUID())).isEmpty();
    }

    private static TrainerStatus running(UUID runId, int rank) {
        return new TrainerStatus(TrainerState.RUNNING, runId, rank, 1, null, 4, List.of(), null);
    }
}
