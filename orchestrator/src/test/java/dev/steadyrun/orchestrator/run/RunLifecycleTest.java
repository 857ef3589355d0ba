package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/** Gang placement, pause/resume with a new generation, and fencing of the old one, all over HTTP. */
class RunLifecycleTest extends RunsApiSupport {

    @Test
    void gangPlacementPauseResumeAndFencing() {
        String operator = token("OPERATOR");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);

        Reply submitted = call("POST", "/api/v1/runs", operator, tinyRun(rack, 2, 1));
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        assertThat(submitted.body().get("state").asString()).isEqualTo("PENDING");
        assertThat(submitted.body().at("/spec/hyper/lr").asDouble()).isEqualTo(ModelPreset.TINY.peakLr());

        Reply starting = awaitState(operator, runId, RunState.STARTING);
        assertThat(starting.body().get("generation").asLong()).isEqualTo(1);

        // generation 1: two ranks and a spare, each node told its part by its heartbeat answer
        Map<Integer, Agent> ranks = new HashMap<>();
        Agent spare = null;
        for (Agent agent : agents) {
            HeartbeatResponse answer = awaitRunOrIdle(agent);
            if (answer.desired() == DesiredState.RUN) {
                Assignment a = answer.assignment();
                assertThat(a.runId()).isEqualTo(runId);
                assertThat(a.generation()).isEqualTo(1);
                assertThat(a.worldSize()).isEqualTo(2);
                assertThat(a.trainerConfig()).containsEntry("model", "tiny").containsEntry("data", "europarl");
                assertThat(a.checkpointDir()).endsWith("/" + runId);
                assertThat(a.restoreFrom()).isNull();
                ranks.put(a.rank(), agent);
            } else {
                assertThat(answer.desired()).isEqualTo(DesiredState.IDLE);
                spare = agent;
            }
        }
        assertThat(ranks).containsOnlyKeys(0, 1);
        assertThat(spare).isNotNull();
        assertThat(nodeState(spare.id())).isEqualTo("SPARE");
        String rendezvous = heartbeat(ranks.get(1), TrainerStatus.idle()).assignment().rendezvous();
        assertThat(rendezvous).isEqualTo(ranks.get(0).name() + ".local:29500");

        Reply generations = call("GET", "/api/v1/runs/" + runId + "/generations", operator, null);
        assertThat(generations.status()).isEqualTo(200);
        assertThat(generations.body().size()).isEqualTo(1);
        assertThat(generations.body().at("/0/ranks").size()).isEqualTo(2);
        assertThat(generations.body().at("/0/spares/0/nodeId").asString()).isEqualTo(spare.id().toString());

        // the first step report moves the run to RUNNING
        assertThat(report(ranks.get(0), runId, 0, 1, 1, 3).status()).isEqualTo(204);
        assertThat(call("GET", "/api/v1/runs/" + runId, operator, null).body().get("state").asString())
                .isEqualTo("RUNNING");

        // pause: STOP while the trainers live, IDLE once they exited, then PAUSED and the spare released
        Reply paused = call("POST", "/api/v1/runs/" + runId + "/pause", operator, null);
        assertThat(paused.status()).as(paused.raw().body()).isEqualTo(200);
        assertThat(paused.body().get("state").asString()).isEqualTo("PAUSING");
        awaitDirective(ranks.get(0), trainer(TrainerState.RUNNING, runId, 0, 1), DesiredState.STOP);
        assertThat(heartbeat(ranks.get(1), trainer(TrainerState.RUNNING, runId, 1, 1)).desired())
                .isEqualTo(DesiredState.STOP);
        for (Agent agent : ranks.values()) {
            assertThat(heartbeat(agent, trainer(TrainerState.EXITED, runId, 0, 1)).desired())
                    .isEqualTo(DesiredState.IDLE);
        }
        awaitState(operator, runId, RunState.PAUSED);
        assertThat(nodeState(spare.id())).isEqualTo("HEALTHY");

        // resume: a new placement with generation 2
        Reply resumed = call("POST", "/api/v1/runs/" + runId + "/resume", operator, null);
        assertThat(resumed.status()).as(resumed.raw().body()).isEqualTo(200);
        assertThat(awaitState(operator, runId, RunState.STARTING).body().get("generation").asLong()).isEqualTo(2);
        Map<Integer, Agent> ranks2 = new HashMap<>();
        for (Agent agent : agents) {
            HeartbeatResponse answer = awaitRunOrIdle(agent);
            if (answer.desired() == DesiredState.RUN) {
                assertThat(answer.assignment().generation()).isEqualTo(2);
                ranks2.put(answer.assignment().rank(), agent);
            }
        }
        assertThat(ranks2).containsOnlyKeys(0, 1);

        // fencing: a generation-1 report is refused and its trainer told to stop; the heartbeat itself is fine
        Agent stale = ranks2.get(0);
        long refusedBefore = count("run_metric");
        Reply refused = report(stale, runId, 0, 1, 4, 2);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(refused.body().get("detail").asString()).contains("stale");
        assertThat(count("run_metric")).isEqualTo(refusedBefore);
        assertThat(heartbeat(stale, trainer(TrainerState.RUNNING, runId, 0, 1)).desired()).isEqualTo(DesiredState.STOP);
        // a report for a rank the node does not hold is refused too
        assertThat(report(stale, runId, 1, 2, 10, 1).status()).isEqualTo(409);

        // the current generation is accepted and shows up in the metrics
        assertThat(report(stale, runId, 0, 2, 10, 3).status()).isEqualTo(204);
        Reply run = call("GET", "/api/v1/runs/" + runId, operator, null);
        assertThat(run.body().get("state").asString()).isEqualTo("RUNNING");
        assertThat(run.body().get("lastStep").asLong()).isEqualTo(12);
        assertThat(run.body().get("tokensSeen").asLong()).isEqualTo(13 * 1024);
        Reply metrics = call("GET", "/api/v1/runs/" + runId + "/metrics?fromStep=0&toStep=100", operator, null);
        assertThat(metrics.status()).isEqualTo(200);
        Set<Long> steps = new HashSet<>();
        metrics.body().get("points").forEach(p -> steps.add(p.get("step").asLong()));
        assertThat(steps).containsExactlyInAnyOrder(1L, 2L, 3L, 10L, 11L, 12L);
        assertThat(metrics.body().at("/points/5/loss").asDouble()).isEqualTo(10.0 / 13);

        // every transition is stored with its reason
        Reply events = call("GET", "/api/v1/runs/" + runId + "/events", operator, null);
        assertThat(events.body().findValuesAsString("to")).containsExactly("PENDING", "STARTING", "RUNNING",
                "PAUSING", "PAUSED", "PENDING", "STARTING", "RUNNING");
        assertThat(events.body().findValuesAsString("reason")).allMatch(r -> !r.isBlank());

        // cancel; then resuming a cancelled run is a conflict
        assertThat(call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null).body().get("state").asString())
                .isEqualTo("CANCELLING");
        for (Agent agent : ranks2.values()) {
            awaitDirective(agent, trainer(TrainerState.EXITED, runId, 0, 2), DesiredState.IDLE);
        }
        awaitState(operator, runId, RunState.CANCELLED);
        Reply conflict = call("POST", "/api/v1/runs/" + runId + "/resume", operator, null);
        assertThat(conflict.status()).isEqualTo(409);
        assertThat(conflict.body().get("detail").asString()).contains("CANCELLED");
        assertThat(count("placement where run_id = '" + runId + "' and released_at is null")).isZero();

        String prometheus = prometheus();
        assertThat(prometheus).contains("steadyrun_run_reports_received_total", "steadyrun_run_reports_refused_total",
                "steadyrun_runs{");
        assertThat(prometheus).containsPattern("steadyrun_run_reports_refused_total\\{[^}]*} [1-9]");
    }

    @Test
    void checkpointsAreDedupedAndJudgedByLossScale() {
        String operator = token("OPERATOR");
        String rack = newRack();
        Agent agent = fleet(rack, 1).get(0);
        UUID runId = UUID.fromString(call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0)).body()
                .get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        Assignment a = awaitRunOrIdle(agent).assignment();
        assertThat(a.rendezvous()).isNull();
        String body = """
                {"runId":"%1$s","rank":0,"generation":1,"steps":[],"checkpoints":[
                 {"type":"checkpoint","step":100,"tokensSeen":102400,"path":"/c/%1$s/step-100","lossScale":2.0,"loss":3.5,
                  "manifestSha256":"ab","bytes":10},
                 {"type":"checkpoint","step":200,"tokensSeen":204800,"path":"/c/%1$s/step-200","lossScale":0.5,"loss":3.9,
                  "manifestSha256":"cd","bytes":10}]}""".formatted(runId);
        for (int i = 0; i < 2; i++) { // a retried report stores nothing twice
            assertThat(call("POST", "/api/v1/agents/" + agent.id() + "/reports", agent.credential(), body).status())
                    .isEqualTo(204);
        }
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.size()).isEqualTo(2);
        assertThat(checkpoints.findValuesAsString("path")).containsExactly(checkpointPath(runId, 200), checkpointPath(runId, 100));
        assertThat(checkpoints.at("/0/healthy").asBoolean()).isFalse();
        assertThat(checkpoints.at("/1/healthy").asBoolean()).isTrue();
        // a diverged step (loss NaN, as the trainer's JSON writes it) is stored as such, and recovery acts on it
        String diverged = """
                {"runId":"%s","rank":0,"generation":1,"checkpoints":[],"steps":[
                 {"type":"step","step":201,"tokensSeen":205824,"loss":"NaN","gradNorm":"Infinity","lossScale":0.25,
                  "overflow":true,"lr":1e-3,"tokensPerSec":400,"stepTimeMs":2500,"rssBytes":1,"activationNorms":[]}]}"""
                .formatted(runId);
        assertThat(call("POST", "/api/v1/agents/" + agent.id() + "/reports", agent.credential(), diverged).status())
                .isEqualTo(204);
        Reply run = call("GET", "/api/v1/runs/" + runId, operator, null);
        assertThat(run.body().get("lastStep").asLong()).isEqualTo(201);
        assertThat(run.body().get("lastLoss").asString()).isEqualTo("NaN");
        assertThat(run.body().get("state").asString()).isEqualTo("RECOVERING");
        // a placement made after a checkpoint restores the newest healthy one
        call("POST", "/api/v1/runs/" + runId + "/pause", operator, null);
        awaitDirective(agent, TrainerStatus.idle(), DesiredState.IDLE);
        awaitState(operator, runId, RunState.PAUSED);
        call("POST", "/api/v1/runs/" + runId + "/resume", operator, null);
        awaitState(operator, runId, RunState.STARTING);
        assertThat(awaitRunOrIdle(agent).assignment().restoreFrom()).isEqualTo(checkpointPath(runId, 100));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void metricsAreDownsampledKeepingLossSpikes() {
        String operator = token("OPERATOR");
        String rack = newRack();
        fleet(rack, 1);
        UUID runId = UUID.fromString(call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0)).body()
                .get("id").asString());
        jdbc.update("""
                insert into run_metric (run_id, generation, rank, step, loss, grad_norm, loss_scale, overflow, lr,
                                        tokens_per_sec, step_time_ms, at)
                select ?, 1, 0, s, case when s = 54321 then 99.0 else 2.0 + 1.0 / (s + 1) end, 0.3, 4, s % 1000 = 0,
                       1e-4, 100, 10, now()
                from generate_series(0, 99999) s""", runId);
        JsonNode metrics = call("GET", "/api/v1/runs/" + runId + "/metrics?maxPoints=500", operator, null).body();
        JsonNode points = metrics.get("points");
        assertThat(points.size()).isLessThanOrEqualTo(500).isGreaterThan(400);
        assertThat(metrics.get("bucketSteps").asLong()).isEqualTo(200);
        assertThat(points.get(0).get("firstStep").asLong()).isZero();
        assertThat(points.get(points.size() - 1).get("step").asLong()).isEqualTo(99_999);
        assertThat(points.findValuesAsString("lossMax").stream().filter(v -> v.equals("99.0"))).hasSize(1);
        long samples = 0;
        long overflows = 0;
        for (JsonNode p : points) {
            samples += p.get("samples").asLong();
            overflows += p.get("overflowSteps").asLong();
        }
        assertThat(samples).isEqualTo(100_000);
        assertThat(overflows).isEqualTo(100);
        JsonNode window = call("GET", "/api/v1/runs/" + runId + "/metrics?fromStep=1000&toStep=1009&maxPoints=100",
                operator, null).body();
        assertThat(window.get("points").size()).isEqualTo(10);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    /** Heartbeats until the answer is {@code expected}: the directive snapshot is swapped by the pass thread. */
    private void awaitDirective(Agent agent, TrainerStatus status, DesiredState expected) {
        long deadline = System.nanoTime() + 15_000_000_000L;
        DesiredState got;
        while ((got = heartbeat(agent, status).desired()) != expected) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(agent.name() + " was told " + got + ", expected " + expected);
            }
            sleep();
        }
    }

    /** The first answer after the snapshot caught up with a new placement: RUN for ranks, IDLE for spares. */
    private HeartbeatResponse awaitRunOrIdle(Agent agent) {
        long deadline = System.nanoTime() + 15_000_000_000L;
        HeartbeatResponse answer = heartbeat(agent, TrainerStatus.idle());
        while (answer.desired() == DesiredState.IDLE && System.nanoTime() < deadline
                && !"SPARE".equals(nodeState(agent.id()))) {
            sleep();
            answer = heartbeat(agent, TrainerStatus.idle());
        }
        return answer;
    }

    private static void sleep() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
