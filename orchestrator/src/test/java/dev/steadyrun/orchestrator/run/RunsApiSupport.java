package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Drives the orchestrator like agents and operators do, over real HTTP. Every test places its runs on nodes of
 * its own rack (through the run's {@code nodeSelector}) so that tests sharing the context never take each
 * other's nodes.
 */
public abstract class RunsApiSupport extends OrchestratorIntegrationTest {

    /** A registered node and its credential. */
    public record Agent(String name, RegisterResponse registration) {

        public UUID id() {
            return registration.nodeId();
        }

        public String credential() {
            return registration.nodeCredential();
        }
    }

    private long sequence;

    protected String token(String role) {
        Reply created = call("POST", "/api/v1/tokens", ADMIN_TOKEN,
                Map.of("name", "o2-" + role.toLowerCase() + "-" + UUID.randomUUID(), "role", role));
        assertThat(created.status()).as(created.raw().body()).isEqualTo(201);
        return created.body().get("secret").asString();
    }

    protected static String newRack() {
        return "rack-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Registers {@code count} nodes in one rack and heartbeats them once, which makes them HEALTHY. */
    protected List<Agent> fleet(String rack, int count) {
        List<Agent> agents = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = rack + "-n" + i;
            Agent agent = new Agent(name, register(name, Map.of("zone", "o2-zone", "rack", rack)));
            assertThat(heartbeat(agent, TrainerStatus.idle()).desired()).isNotNull();
            agents.add(agent);
        }
        return agents;
    }

    protected HeartbeatResponse heartbeat(Agent agent, TrainerStatus trainer) {
        Reply reply = heartbeat(agent.registration(), ++sequence, trainer);
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(200);
        return json.treeToValue(reply.body(), HeartbeatResponse.class);
    }

    protected static TrainerStatus trainer(TrainerState state, UUID runId, int rank, long generation) {
        return new TrainerStatus(state, runId, rank, generation, null, -1, List.of(), null);
    }

    protected Reply report(Agent agent, UUID runId, int rank, long generation, long firstStep, int steps) {
        List<StepMetrics> lines = new ArrayList<>();
        for (long s = firstStep; s < firstStep + steps; s++) {
            lines.add(new StepMetrics(s, (s + 1) * 1024, 10.0 / (s + 1), 0.5, 1.0, false, 1e-3, 500, 2000, 1 << 30,
                    List.of(1.0, 1.1)));
        }
        return call("POST", "/api/v1/agents/" + agent.id() + "/reports", agent.credential(),
                new TrainerReport(runId, rank, generation, lines, List.of()));
    }

    /** The checkpoint location of test runs. */
    protected static final String CHECKPOINTS = "/c";

    /** A tiny run on the europarl sample, restricted to one rack, checkpointing under {@link #CHECKPOINTS}. */
    protected static Map<String, Object> tinyRun(String rack, int worldSize, int spares) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("name", "o2 " + rack);
        spec.put("model", Map.of("size", "tiny"));
        spec.put("data", Map.of("sample", "europarl"));
        spec.put("worldSize", worldSize);
        spec.put("spares", spares);
        spec.put("nodeSelector", Map.of("rack", rack));
        spec.put("checkpointLocation", CHECKPOINTS);
        return spec;
    }

    /** Where a test run's checkpoint of {@code step} is: the only place a checkpoint line may name. */
    protected static String checkpointPath(UUID runId, long step) {
        return CHECKPOINTS + "/" + runId + "/step-" + step;
    }

    /** Polls the run until the scheduling pass (its own thread) moved it to {@code state}. */
    protected Reply awaitState(String operator, UUID runId, RunState state) {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (true) {
            Reply run = call("GET", "/api/v1/runs/" + runId, operator, null);
            if (run.body().path("state").asString("").equals(state.name())) {
                return run;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("run " + runId + " did not reach " + state + ": " + run.raw().body());
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    protected String nodeState(UUID nodeId) {
        return jdbc.queryForObject("select state from node where id = ?", String.class, nodeId);
    }
}
