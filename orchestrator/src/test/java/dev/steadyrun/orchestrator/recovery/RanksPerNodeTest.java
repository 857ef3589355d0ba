package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * Several ranks per node (issue 18), over real HTTP on PostgreSQL: whole nodes are placed, a node's ranks move
 * together, and a fatal XID on one GPU fails the node naming that GPU.
 */
class RanksPerNodeTest extends RecoverySupport {

    /** 4 ranks of the tiny model (seqLen 128): one sequence each per step. */
    private static final Map<String, Object> FOUR_RANKS = Map.of("hyper", Map.of("batchTokens", 512));
    private static final Map<String, Object> QUICK = Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S");

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void twoRanksPerNodeTakeWholeNodesAndALostNodeMovesBothItsRanksToTheSpare() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 4, 1, QUICK, withMore(Map.of("ranksPerNode", 2)));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        assertThat(gen1).as("a node is told its first rank").containsOnlyKeys(0, 2);
        Agent first = gen1.get(0);
        Agent lost = gen1.get(2);
        Agent spare = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        assertThat(nodeState(spare.id())).as("the spare is a whole node").isEqualTo("SPARE");

        Assignment a0 = assignment(first);
        Assignment a2 = assignment(lost);
        assertThat(a0.worldSize()).isEqualTo(4);
        assertThat(a0.localRanks()).containsExactly(new LocalRank(0, 0, null), new LocalRank(1, 1, null));
        assertThat(a2.localRanks()).containsExactly(new LocalRank(0, 2, null), new LocalRank(1, 3, null));
        assertThat(a2.rendezvous()).as("rank 0's rendezvous: its node's advertised address")
                .startsWith(first.name() + ".local:");
        JsonNode seats = call("GET", "/api/v1/runs/" + runId + "/generations", operator, null).body().get(0);
        assertThat(seats.get("ranks").findValuesAsString("nodeName")).containsExactly(first.name(), lost.name());
        assertThat(seats.get("ranks").findValues("ranks")).extracting(JsonNode::asInt).containsExactly(2, 2);
        assertThat(seats.get("spares").findValuesAsString("nodeName")).containsExactly(spare.name());

        // each node reports its own ranks, and only those
        assertThat(steps(first, runId, 1, 1, healthySteps(1, 4), List.of()).status()).isEqualTo(204);
        assertThat(steps(lost, runId, 3, 1, healthySteps(1, 4), List.of()).status()).isEqualTo(204);
        assertThat(steps(lost, runId, 1, 1, healthySteps(1, 4), List.of()).status())
                .as("rank 1 runs on the other node").isEqualTo(409);
        steps(first, runId, 0, 1, healthySteps(1, 4), List.of(checkpoint(runId, 4, 2.0)));

        // the node of ranks 2-3 goes silent: one incident for the node, naming both ranks
        clock.advance(Duration.ofSeconds(3));
        heartbeat(first, trainer(TrainerState.RUNNING, runId, 0, 1));
        heartbeat(spare, TrainerStatus.idle());
        sweeper.sweep(clock.instant());
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("NODE_LOST");
        assertThat(incident.get("nodeName").asString()).isEqualTo(lost.name());
        assertThat(incident.get("rank").asInt()).isEqualTo(2);
        assertThat(incident.at("/evidence/ranks").asString()).isEqualTo("2-3");
        for (int i = 0; i < 3; i++) {
            clock.advance(Duration.ofSeconds(2));
            heartbeat(first, trainer(TrainerState.RUNNING, runId, 0, 1));
            heartbeat(spare, TrainerStatus.idle());
            scheduling.runOnce();
        }
        sweeper.sweep(clock.instant());
        assertThat(nodeState(lost.id())).isEqualTo("FAILED");
        assertThat(heartbeat(first, exited(runId, 0, 1, 5, null)).desired()).isEqualTo(DesiredState.IDLE);
        scheduling.runOnce();
        assertThat(awaitState(operator, runId, RunState.STARTING).body().get("generation").asLong()).isEqualTo(2);

        Assignment kept = assignment(first);
        Assignment moved = assignment(spare);
        assertThat(kept.generation()).isEqualTo(2);
        assertThat(kept.localRanks()).extracting(LocalRank::globalRank).containsExactly(0, 1);
        assertThat(moved.localRanks()).as("both ranks of the lost node, on one node")
                .extracting(LocalRank::globalRank).containsExactly(2, 3);
        assertThat(moved.restoreFrom()).isEqualTo(checkpointPath(runId, 4));
        assertThat(steps(spare, runId, 3, 2, healthySteps(5, 5), List.of()).status()).isEqualTo(204);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    /**
     * Tensor parallel 2 on nodes of 2 ranks: each node's pair is one tensor group, and every rank's trainer is told
     * the split; a group larger than a node is refused over HTTP naming the field, and nothing is stored.
     */
    @Test
    void aTensorGroupIsOneNodesRanksAndEveryTrainerIsTold() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        Reply tooWide = call("POST", "/api/v1/runs", operator,
                spec(rack, 4, Map.of("ranksPerNode", 2, "tensorParallel", 4, "hyper", Map.of("batchTokens", 512))));
        assertThat(tooWide.status()).as(tooWide.raw().body()).isEqualTo(400);
        assertThat(tooWide.body().toString()).contains("tensorParallel", "must divide ranksPerNode (2)");

        UUID runId = submit(rack, 4, 1, QUICK, withMore(Map.of("ranksPerNode", 2, "tensorParallel", 2)));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        assertThat(gen1).containsOnlyKeys(0, 2);
        for (Agent node : gen1.values()) {
            Assignment a = assignment(node);
            assertThat(a.trainerConfig()).containsEntry("tensorParallel", "2");
            assertThat(a.localRanks()).as("ranks 2t and 2t+1: one tensor group on one node")
                    .extracting(LocalRank::globalRank).containsExactly(a.rank(), a.rank() + 1);
        }
        assertThat(call("GET", "/api/v1/runs/" + runId, operator, null).body().at("/spec/tensorParallel").asInt())
                .isEqualTo(2);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aFatalXidOnGpuOneFailsTheWholeNodeNamingGpuOne() {
        String rack = newRack();
        List<RegisterResponse> nodes = twoGpuFleet(rack).stream().map(Agent::registration).toList();
        Reply tooBig = call("POST", "/api/v1/runs", operator, spec(rack, 8, Map.of("gpusPerNode", 4)));
        assertThat(tooBig.status()).as(tooBig.raw().body()).isEqualTo(422);
        assertThat(tooBig.body().toString()).contains("worldSize", "with 4 GPUs or more");

        UUID runId = submit(rack, 4, 1, QUICK, withMore(Map.of("gpusPerNode", 2)));
        scheduling.runOnce();
        RegisterResponse victim = null;
        RegisterResponse other = null;
        for (RegisterResponse node : nodes) {
            HeartbeatResponse answer = json.treeToValue(heartbeat(node, 2, TrainerStatus.idle(), gpu(0), gpu(1)).body(),
                    HeartbeatResponse.class);
            if (answer.desired() == DesiredState.RUN) {
                Assignment a = answer.assignment();
                assertThat(a.localRanks()).as("one rank per GPU, each seeing its GPU alone")
                        .extracting(LocalRank::cudaVisibleDevices).containsExactly("0", "1");
                if (a.rank() == 2) {
                    victim = node;
                } else {
                    other = node;
                }
            }
        }
        assertThat(victim).isNotNull();
        assertThat(other).isNotNull();

        GpuHealth fallen = new GpuHealth(1, 60, 1000, 81559, 0, 0, 0, 0, List.of(79), 0);
        assertThat(heartbeat(victim, 3, trainer(TrainerState.RUNNING, runId, 2, 1), gpu(0), fallen).status())
                .isEqualTo(200);
        assertThat(nodeState(victim.nodeId())).isEqualTo("FAILED");
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("GPU_FAULT");
        assertThat(incident.at("/evidence/gpu").asInt()).isEqualTo(1);
        assertThat(incident.at("/evidence/xid").asInt()).isEqualTo(79);
        assertThat(incident.at("/evidence/ranks").asString()).isEqualTo("2-3");
        assertThat(incident.get("summary").asString()).contains("GPU 1", "XID 79");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aNodeWhoseGpuDegradedKeepsWorkingUntilTheNextRestartWhichCordonsItAndMovesItsRanks() {
        String rack = newRack();
        List<Agent> agents = twoGpuFleet(rack);
        UUID runId = submit(rack, 4, 1, QUICK, withMore(Map.of("gpusPerNode", 2)));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        Agent healthy = gen1.get(0);
        Agent worn = gen1.get(2);
        Agent spare = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        steps(healthy, runId, 0, 1, healthySteps(1, 4), List.of(checkpoint(runId, 4, 2.0)));

        // XID 94 (contained ECC error) on GPU 1: degraded, the node goes on with its ranks
        GpuHealth contained = new GpuHealth(1, 60, 1000, 81559, 0, 0, 0, 0, List.of(94), 0);
        assertThat(heartbeat(worn.registration(), 50_000, trainer(TrainerState.RUNNING, runId, 2, 1), gpu(0), contained)
                .status()).isEqualTo(200);
        assertThat(nodeState(worn.id())).isEqualTo("SUSPECT");
        assertThat(incidents(runId)).as("a degraded GPU opens no incident").isEmpty();

        // a crash elsewhere restarts the run: the worn node is cordoned then, and its ranks go to the spare
        heartbeat(healthy, exited(runId, 0, 1, 1, null));
        stopAll(gen1.values(), runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(gen2).containsEntry(0, healthy).containsEntry(2, spare);
        assertThat(nodeState(worn.id())).isEqualTo("CORDONED");
        assertThat(call("GET", "/api/v1/nodes/" + worn.id(), operator, null).body().at("/node/stateReason").asString())
                .contains("degraded GPU", "GPU 1", "XID 94");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    private static Map<String, Object> withMore(Map<String, Object> more) {
        Map<String, Object> all = new java.util.LinkedHashMap<>(FOUR_RANKS);
        all.putAll(more);
        return all;
    }

    private static Map<String, Object> spec(String rack, int worldSize, Map<String, Object> more) {
        Map<String, Object> spec = new java.util.LinkedHashMap<>(tinyRun(rack, worldSize, 0));
        spec.putAll(more);
        return spec;
    }

    /** Three nodes of two GPUs in one rack, HEALTHY after one heartbeat each. */
    private List<Agent> twoGpuFleet(String rack) {
        List<Agent> agents = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Agent agent = new Agent(rack + "-g" + i, twoGpuNode(rack + "-g" + i, rack));
            assertThat(heartbeat(agent.registration(), 1, TrainerStatus.idle(), gpu(0), gpu(1)).status()).isEqualTo(200);
            agents.add(agent);
        }
        return agents;
    }

    private RegisterResponse twoGpuNode(String name, String rack) {
        Reply r = call("POST", "/api/v1/agents/register", JOIN_TOKEN, new RegisterRequest(name, name + ".local",
                List.of(new GpuInfo(0, "GPU-" + name + "-0", "NVIDIA A100", 81559),
                        new GpuInfo(1, "GPU-" + name + "-1", "NVIDIA A100", 81559)),
                Map.of("zone", "o2-zone", "rack", rack), "test"));
        assertThat(r.status()).as(r.raw().body()).isEqualTo(200);
        return json.treeToValue(r.body(), RegisterResponse.class);
    }

    private static GpuHealth gpu(int index) {
        return new GpuHealth(index, 55, 1000, 81559, 0, 0, 0, 0, List.of(), 0);
    }
}
