package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * The goodput breakdown through the real API: a run trains, is restarted from an earlier checkpoint while one of
 * its nodes is cordoned (so the new generation waits for nodes), trains again, is paused and resumed; every part is
 * checked against the times the test's clock set, and the per-run and fleet gauges against the API.
 */
class GoodputBreakdownTest extends RecoverySupport {

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void wallTimeSplitsIntoProductiveLostWorkRestartWaitingAndPaused() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        Instant placed = clock.instant();
        UUID runId = submit(rack, 2, 0, Map.of());
        Map<Integer, Agent> gen1 = ranks(agents, 1);

        clock.advance(Duration.ofSeconds(5)); // start-up: restart
        steps(gen1.get(0), runId, 0, 1, healthySteps(1, 1), List.of());
        clock.advance(Duration.ofSeconds(5)); // kept: productive
        steps(gen1.get(0), runId, 0, 1, healthySteps(2, 10), List.of(checkpoint(runId, 10, 2.0)));
        clock.advance(Duration.ofSeconds(10)); // thrown away by the restart from step 10: lost work
        steps(gen1.get(0), runId, 0, 1, healthySteps(11, 20), List.of());
        clock.advance(Duration.ofSeconds(2)); // nothing reported until the restart: lost work too

        // rank 1's node takes no new work, so the new generation waits for it
        Agent cordoned = gen1.get(1);
        assertThat(call("POST", "/api/v1/nodes/" + cordoned.id() + "/cordon", ADMIN_TOKEN, null).status())
                .isEqualTo(200);
        Instant requested = clock.instant();
        Reply restart = call("POST", "/api/v1/runs/" + runId + "/restart", operator, Map.of("checkpointStep", 10));
        assertThat(restart.status()).as(restart.raw().body()).isEqualTo(202);
        clock.advance(Duration.ofSeconds(3)); // stopping: restart
        stopAll(agents, runId, 1);
        Instant stopped = clock.instant();
        passBackoff(Duration.ZERO, agents);
        assertThat(run(runId).get("state").asString()).isEqualTo("RECOVERING");
        JsonNode history = call("GET", "/api/v1/runs/" + runId + "/events", operator, null).body();
        JsonNode last = history.get(history.size() - 1);
        assertThat(last.get("reason").asString()).startsWith("restart waits for nodes: ")
                .contains(" for 1 node(s) of 1 rank(s)");
        // the first pass to find no gang is the one after the stops (also run on the stop's commit) or after the backoff
        Instant waitsFrom = Instant.parse(last.get("at").asString());
        assertThat(waitsFrom).isIn(stopped, stopped.plusMillis(100));
        clock.advance(Duration.ofSeconds(30)); // waiting for nodes
        Instant placedAgain = clock.instant();
        assertThat(call("POST", "/api/v1/nodes/" + cordoned.id() + "/uncordon", ADMIN_TOKEN, null).status())
                .isEqualTo(200);
        agents.forEach(agent -> heartbeat(agent, TrainerStatus.idle())); // readmitted at its next heartbeat
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(gen2).containsOnlyKeys(0, 1);

        clock.advance(Duration.ofSeconds(3)); // restoring: restart
        steps(gen2.get(0), runId, 0, 2, healthySteps(11, 15), List.of());
        clock.advance(Duration.ofSeconds(10)); // kept by the resume from step 20: productive
        steps(gen2.get(0), runId, 0, 2, healthySteps(16, 20), List.of(checkpoint(runId, 20, 2.0)));
        clock.advance(Duration.ofSeconds(5)); // after the checkpoint the resume restores: lost work

        assertThat(call("POST", "/api/v1/runs/" + runId + "/pause", operator, null).status()).isEqualTo(200);
        stopAll(agents, runId, 2);
        awaitState(operator, runId, RunState.PAUSED);
        clock.advance(Duration.ofSeconds(20)); // paused
        assertThat(call("POST", "/api/v1/runs/" + runId + "/resume", operator, null).status()).isEqualTo(200);
        Map<Integer, Agent> gen3 = ranks(agents, 3);
        assertThat(assignment(gen3.get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 20));
        clock.advance(Duration.ofSeconds(2)); // restoring: restart
        steps(gen3.get(0), runId, 0, 3, healthySteps(21, 21), List.of());
        clock.advance(Duration.ofSeconds(8)); // productive

        Reply reply = call("GET", "/api/v1/runs/" + runId + "/goodput", operator, null);
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(200);
        JsonNode g = reply.body();
        assertThat(Instant.parse(g.get("from").asString())).isEqualTo(placed);
        assertThat(Instant.parse(g.get("to").asString())).isEqualTo(clock.instant());
        assertThat(g.get("wallSeconds").asDouble()).isCloseTo(103.1, within(1e-9));
        assertThat(g.get("productiveSeconds").asDouble()).as("5 + 10 + 8").isCloseTo(23, within(1e-9));
        assertThat(g.get("lostWorkSeconds").asDouble()).as("12 + 5").isCloseTo(17, within(1e-9));
        double stopping = Duration.between(requested, waitsFrom).toMillis() / 1000.0; // 3 or 3.1
        double waiting = Duration.between(waitsFrom, placedAgain).toMillis() / 1000.0; // 30.1 or 30
        assertThat(g.get("restartSeconds").asDouble()).as("5 + stopping + 3 + 2").isCloseTo(10 + stopping, within(1e-9));
        assertThat(g.get("waitingForNodesSeconds").asDouble()).isCloseTo(waiting, within(1e-9));
        assertThat(stopping + waiting).isCloseTo(33.1, within(1e-9));
        assertThat(g.get("pausedSeconds").asDouble()).isCloseTo(20, within(1e-9));
        assertThat(g.get("goodput").asDouble()).isCloseTo(23 / 103.1, within(1e-9));

        recovery.watch(clock.instant());
        String scrape = prometheus();
        String run = "run=\"" + runId + "\"";
        for (Map.Entry<String, String> part : Map.of("productive", "productiveSeconds", "lost_work",
                "lostWorkSeconds", "restart", "restartSeconds", "waiting_for_nodes", "waitingForNodesSeconds",
                "paused", "pausedSeconds").entrySet()) {
            assertThat(sample(scrape, "steadyrun_run_goodput_seconds", "part=\"" + part.getKey() + "\"," + run))
                    .as(part.getKey()).isCloseTo(g.get(part.getValue()).asDouble(), within(1e-9));
        }
        // the fleet: productive ÷ wall summed over every run the watch measures (other tests' live runs too)
        double productive = 0;
        double wall = 0;
        for (String id : jdbc.queryForList("select id::text from run where state in ('STARTING', 'RUNNING',"
                + " 'RECOVERING')", String.class)) {
            JsonNode b = call("GET", "/api/v1/runs/" + id + "/goodput", operator, null).body();
            productive += b.get("productiveSeconds").asDouble();
            wall += b.get("wallSeconds").asDouble();
        }
        assertThat(sample(scrape, "steadyrun_fleet_goodput", "")).isCloseTo(productive / wall, within(1e-9));

        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
        recovery.watch(clock.instant());
        assertThat(prometheus()).doesNotContain("steadyrun_run_goodput_seconds{part=\"productive\"," + run);
    }

    @Test
    void aRunNotPlacedYetHasAnEmptyBreakdownAndAnUnknownRunIsNotFound() {
        String rack = newRack();
        fleet(rack, 1);
        UUID first = submit(rack, 1, 0, Map.of());
        // the rack's one node is taken: the second run is queued, never placed
        Reply queued = call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0));
        assertThat(queued.status()).as(queued.raw().body()).isEqualTo(201);
        String id = queued.body().get("id").asString();
        scheduling.runOnce();
        assertThat(run(UUID.fromString(id)).get("state").asString()).isEqualTo("PENDING");
        JsonNode g = call("GET", "/api/v1/runs/" + id + "/goodput", operator, null).body();
        assertThat(g.get("wallSeconds").asDouble()).isZero();
        assertThat(g.get("from").isNull()).isTrue();
        assertThat(g.get("goodput").isNull()).isTrue();
        assertThat(call("GET", "/api/v1/runs/" + UUID.randomUUID() + "/goodput", operator, null).status())
                .isEqualTo(404);
        call("POST", "/api/v1/runs/" + id + "/cancel", operator, null);
        call("POST", "/api/v1/runs/" + first + "/cancel", operator, null);
    }
}
