package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.node.LeaseSweeper;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.orchestrator.scheduling.SchedulingLoop;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * Plays agents and trainers through failures over real HTTP: the scheduling pass is run in the test's thread
 * ({@link SchedulingLoop#runOnce}), the lease sweep and the hang watch with the test's clock.
 */
abstract class RecoverySupport extends RunsApiSupport {

    @Autowired
    SchedulingLoop scheduling;
    @Autowired
    LeaseSweeper sweeper;
    @Autowired
    ProgressWatch recovery;
    @Autowired
    RunWatches watches;

    String operator;

    /** Submits a run on the rack with a recovery policy and waits for its first placement. */
    UUID submit(String rack, int worldSize, int spares, Map<String, Object> policy) {
        return submit(rack, worldSize, spares, policy, Map.of());
    }

    UUID submit(String rack, int worldSize, int spares, Map<String, Object> policy, Map<String, Object> more) {
        Map<String, Object> spec = new LinkedHashMap<>(tinyRun(rack, worldSize, spares));
        spec.putAll(more);
        spec.put("recoveryPolicy", policy);
        Reply submitted = call("POST", "/api/v1/runs", operator, spec);
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        scheduling.runOnce();
        awaitState(operator, runId, RunState.STARTING);
        return runId;
    }

    /** A run of two ranks and one spare on a rack of three nodes, at its first generation. */
    record TwoRanksAndASpare(UUID runId, Agent rank0, Agent rank1, Agent spare) {
    }

    TwoRanksAndASpare twoRanksAndASpare(Map<String, Object> policy) {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 2, 1, policy);
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        Agent spare = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        return new TwoRanksAndASpare(runId, gen1.get(0), gen1.get(1), spare);
    }

    /** The current assignments by rank: every agent heartbeats once (idle) and says what it was told. */
    Map<Integer, Agent> ranks(List<Agent> agents, long generation) {
        scheduling.runOnce();
        Map<Integer, Agent> ranks = new HashMap<>();
        for (Agent agent : agents) {
            HeartbeatResponse answer = heartbeat(agent, TrainerStatus.idle());
            if (answer.desired() == DesiredState.RUN) {
                assertThat(answer.assignment().generation()).isEqualTo(generation);
                ranks.put(answer.assignment().rank(), agent);
            }
        }
        return ranks;
    }

    Assignment assignment(Agent agent) {
        HeartbeatResponse answer = heartbeat(agent, TrainerStatus.idle());
        assertThat(answer.desired()).as(agent.name()).isEqualTo(DesiredState.RUN);
        return answer.assignment();
    }

    static TrainerStatus exited(UUID runId, int rank, long generation, int code, String threadDump) {
        return new TrainerStatus(TrainerState.EXITED, runId, rank, generation, code, -1,
                List.of("line 1", "Exception in thread main: boom"), threadDump);
    }

    /** Every agent's trainer of {@code generation} exits (143, stopped on request) and the pass settles the stops. */
    void stopAll(Iterable<Agent> agents, UUID runId, long generation) {
        for (Agent agent : agents) {
            heartbeat(agent, exited(runId, 0, generation, 143, null));
        }
        scheduling.runOnce(); // snapshot: the run is RECOVERING
        for (Agent agent : agents) {
            HeartbeatResponse answer = heartbeat(agent, exited(runId, 0, generation, 143, null));
            // IDLE confirms the stop; once every rank stopped a restart without backoff may already be out
            if (answer.desired() == DesiredState.RUN) {
                assertThat(answer.assignment().generation()).isGreaterThan(generation);
            } else {
                assertThat(answer.desired()).isEqualTo(DesiredState.IDLE);
            }
        }
    }

    /** Moves the clock past a backoff, keeps the agents' leases fresh and runs the pass. */
    void passBackoff(Duration backoff, Iterable<Agent> alive) {
        // the pass the incident's run transition asked for (SchedulingLoop#request) runs on a Quartz thread and may
        // not have run yet on a loaded machine: without it the agents below would still be told to run the old
        // generation, confirm no stop, and the restart would wait for the old ranks
        scheduling.runOnce();
        clock.advance(backoff.plusMillis(100));
        for (Agent agent : alive) {
            heartbeat(agent, TrainerStatus.idle());
        }
        scheduling.runOnce();
    }

    Reply steps(Agent agent, UUID runId, int rank, long generation, List<StepMetrics> steps,
                List<CheckpointWritten> checkpoints) {
        return call("POST", "/api/v1/agents/" + agent.id() + "/reports", agent.credential(),
                new TrainerReport(runId, rank, generation, steps, checkpoints));
    }

    static StepMetrics step(long s, double loss, double stepTimeMs) {
        return new StepMetrics(s, (s + 1) * 1024, loss, 0.5, 4.0, false, 1e-3, 500, stepTimeMs, 1 << 30, List.of());
    }

    static List<StepMetrics> healthySteps(long from, long to) {
        List<StepMetrics> out = new ArrayList<>();
        for (long s = from; s <= to; s++) {
            out.add(step(s, 3.0 + 0.01 * Math.sin(s), 1000));
        }
        return out;
    }

    static CheckpointWritten checkpoint(UUID runId, long step, double lossScale) {
        return new CheckpointWritten(step, (step + 1) * 1024, checkpointPath(runId, step), lossScale, 3.0, "sha" + step,
                10);
    }

    JsonNode run(UUID runId) {
        return call("GET", "/api/v1/runs/" + runId, operator, null).body();
    }

    JsonNode incidents(UUID runId) {
        Reply r = call("GET", "/api/v1/runs/" + runId + "/incidents", operator, null);
        assertThat(r.status()).as(r.raw().body()).isEqualTo(200);
        return r.body();
    }

    long alertEvents(String type, UUID runId) {
        Long n = jdbc.queryForObject("select count(*) from alert_event where type = ? and ordering_key = ?",
                Long.class, type, runId.toString());
        return n == null ? 0 : n;
    }
}
