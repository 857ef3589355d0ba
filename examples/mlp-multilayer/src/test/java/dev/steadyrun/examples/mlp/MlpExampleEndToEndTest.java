package dev.steadyrun.examples.mlp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.FaultyTrainerLauncher;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.RealOrchestrator;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.MissingNode;

/**
 * Issue 22's proof, with nothing simulated: the real orchestrator (Boot jar, own PostgreSQL database), three real
 * agents as child JVMs with the example installed as program {@code mlp@0.1.0} (admin-registered), and the example
 * training data parallel on 2 ranks plus a spare. An agent is killed with SIGKILL (node lost: the spare takes its
 * rank, restored from a checkpoint, the old generation fenced, an incident in the logbook), then the chaos API makes
 * the example diverge (rolled back before the onset, the ladder's knobs applied by the SDK). 2 s heartbeats.
 * The refusal of an unregistered program (422, nothing stored) is the orchestrator's {@code ProgramsTest}.
 */
class MlpExampleEndToEndTest {

    private static final List<String> NODES = List.of("mlp-a", "mlp-b", "mlp-c");
    private static final Duration WAIT = Duration.ofSeconds(60);
    /** Slow enough that the loss stays far from 0, where its noise alone would look like spikes. */
    private static final double LR = 0.003;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static Path dir;
    private static RealOrchestrator orchestrator;
    private static String program;
    private static final Map<String, Process> agents = new LinkedHashMap<>();

    @BeforeAll
    static void startOrchestratorAndAgents() throws Exception {
        dir = Files.createTempDirectory("mlp-e2e");
        System.out.println("MLP end-to-end logs in " + dir);
        orchestrator = RealOrchestrator.forRecovery("steadyrun_mlp_it", dir.resolve("orchestrator.log"), 2000);
        orchestrator.start(Duration.ofMinutes(3));
        orchestrator.post("/api/v1/programs", "{\"name\":\"mlp\",\"version\":\"0.1.0\",\"description\":\"spirals\"}");
        // wider layers make a step take milliseconds rather than microseconds, so that the story sees tens of
        // steps a second, not thousands; the launcher only passes the key on (its other keys the example ignores)
        program = FaultyTrainerLauncher.trainerCommand(dir, Processes.java() + " -Xmx384m -XX:TieredStopAtLevel=1 -cp "
                + System.getProperty("java.class.path") + " " + MlpExample.class.getName(), "--set hidden=256");
        for (String name : NODES) {
            startAgent(name);
        }
        for (String name : NODES) {
            Await.until(name + " to be HEALTHY", WAIT, () -> orchestrator.nodeState(name).equals("HEALTHY"));
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        Processes.stopAll(agents.values(), dir);
        if (orchestrator != null) {
            orchestrator.close();
        }
    }

    @Test
    void twoRanksAndASpareSurviveAKilledAgentAndAForcedDivergence() throws Exception {
        long started = System.nanoTime();
        Path location = dir.resolve("checkpoints");
        // 256 points per rank and step (512 in all); the tiny model's keys only satisfy the spec's checks. A step takes
        // ~50 ms on an idle machine and the SDK keeps 3 checkpoints: at 10 steps apart the last one before a forced
        // divergence was deleted by retention before its detection (2 s, 33 steps later), and the run went to a human
        JsonNode submitted = orchestrator.post("/api/v1/runs", """
                {"name":"mlp-e2e","program":{"name":"mlp","version":"0.1.0"},"model":{"size":"tiny"},
                 "data":{"sample":"europarl"},"worldSize":2,"spares":1,
                 "hyper":{"batchTokens":%d,"microBatch":512,"lr":%s,"maxSteps":1000000},
                 "checkpointInterval":50,"checkpointLocation":"%s",
                 "recoveryPolicy":{"backoffInitial":"PT1S","backoffMax":"PT4S","hangFloor":"PT2M",
                   "spikeWarmupSteps":3,"spikeRatio":5,"rollbackMarginSteps":1,
                   "divergenceLadder":[{"lrMultiplier":0.5,"clipNorm":0.3}]}}"""
                .formatted(128 * 2 * 512, LR, location));
        UUID run = UUID.fromString(submitted.path("id").asString());
        String runPath = "/api/v1/runs/" + run;

        // --- an agent killed with SIGKILL ---
        long checkpoint = Await.until("a checkpoint", WAIT, () -> orchestrator.poll(runPath + "/checkpoints"),
                c -> c.isArray() && !c.isEmpty()).get(0).path("step").asLong();
        Await.until("a step past checkpoint " + checkpoint, WAIT,
                () -> orchestrator.poll(runPath).path("lastStep").asLong() > checkpoint);
        JsonNode first = orchestrator.poll(runPath + "/generations").get(0);
        String victim = seat(first.path("ranks"), 1).path("nodeName").asString();
        String spare = first.path("spares").get(0).path("nodeName").asString();
        Processes.kill("KILL", agents.get(victim).pid());
        agents.get(victim).waitFor();

        // the node's loss is an incident of generation 1, or of the next one when a survivor's exit (its peer was
        // stopped as the agent died) restarted the run before the victim's lease ran out
        JsonNode lost = awaitRecovered(runPath, "NODE_LOST", i -> victim.equals(i.path("nodeName").asString()));
        assertThat(lost.path("nodeName").asString()).isEqualTo(victim);
        assertThat(lost.path("rank").asInt()).isEqualTo(1);
        assertThat(lost.path("swappedIn").path("nodeName").asString()).as("the spare took the rank").isEqualTo(spare);
        long restored = lost.path("restoreFrom").path("step").asLong();
        assertThat(restored).as("restored from the newest checkpoint").isGreaterThanOrEqualTo(checkpoint);
        long second = lost.path("newGeneration").asLong();
        JsonNode next = generation(runPath, second);
        assertThat(seat(next.path("ranks"), 1).path("nodeName").asString()).isEqualTo(spare);
        Instant placed = Instant.parse(next.path("placedAt").asString());
        for (JsonNode seat : generation(runPath, lost.path("generation").asLong()).path("ranks")) {
            assertThat(seat.path("releasedAt").isString()).as("every old rank released (fenced)").isTrue();
            assertThat(Instant.parse(seat.path("releasedAt").asString())).isBeforeOrEqualTo(placed);
        }
        awaitStep(run, second, restored + 2);
        assertThat(metric(run, second, restored + 1, 1, "lr")).as("rank 1 on the spare trains on from the restore")
                .isEqualTo(LR);

        // --- a forced divergence: the LR of every rank × 1000 from the next step ---
        JsonNode asked = orchestrator.post(runPath + "/chaos", "{\"action\":\"DIVERGE\",\"rank\":0}");
        long diverged = asked.path("generation").asLong();
        JsonNode incident = awaitRecovered(runPath, "DIVERGENCE", i -> i.path("generation").asLong() == diverged);
        long onset = incident.path("onsetStep").asLong();
        JsonNode decision = incident.path("decision");
        assertThat(decision.path("action").asString()).isEqualTo("ROLLBACK_AND_RESTART");
        assertThat(decision.path("knobs").path("lrMultiplier").asDouble()).isEqualTo(0.5);
        assertThat(decision.path("knobs").path("clipNorm").asDouble()).isEqualTo(0.3);
        assertThat(metric(run, diverged, onset, 0, "lr")).as("the chaos LR at the onset").isEqualTo(LR * 1000);
        long rollback = incident.path("restoreFrom").path("step").asLong();
        assertThat(rollback).as("a checkpoint before the onset").isPositive().isLessThan(onset);

        long third = incident.path("newGeneration").asLong();
        awaitStep(run, third, rollback + 2);
        for (int rank = 0; rank < 2; rank++) {
            assertThat(metric(run, third, rollback + 1, rank, "lr")).as("rank %d's LR after the rollback: the"
                    + " knob, applied by the SDK", rank).isEqualTo(LR * 0.5);
        }
        assertThat(orchestrator.losses(run, third)).as("losses after the rollback").allMatch(Double::isFinite);
        JsonNode written = Await.until("a checkpoint of generation " + third, WAIT,
                () -> orchestrator.poll(runPath + "/checkpoints").get(0),
                c -> c != null && c.path("generation").asLong() == third);
        JsonNode knobs = JSON.readTree(Files.readString(Path.of(written.path("path").asString())
                .resolve("state.json"))).path("knobs");
        assertThat(knobs.path("clipNorm").asDouble()).as("clipping 0.3 as the SDK saved it").isEqualTo(0.3);
        assertThat(knobs.path("lrMultiplier").asDouble()).isEqualTo(0.5);
        System.out.printf("MLP end-to-end story: %d s after the orchestrator and agents were up%n",
                (System.nanoTime() - started) / 1_000_000_000);
        orchestrator.post(runPath + "/cancel", null);
    }

    private static void startAgent(String name) throws IOException {
        ProcessBuilder builder = orchestrator.agent(name, dir, "mlp", Duration.ofSeconds(5),
                List.of("--programs", "mlp@0.1.0=" + program));
        builder.environment().put("OMP_NUM_THREADS", "1"); // three trainers share two cores
        agents.put(name, builder.start());
    }

    /** The incident of that kind that {@code which} accepts, once it has restarted the run at a new generation. */
    private static JsonNode awaitRecovered(String runPath, String kind, Predicate<JsonNode> which) {
        return Await.until("a " + kind + " incident with a new generation", WAIT, () -> {
            for (JsonNode i : orchestrator.poll(runPath + "/incidents")) {
                if (kind.equals(i.path("kind").asString()) && which.test(i)) {
                    return i;
                }
            }
            return MissingNode.getInstance();
        }, i -> i.path("newGeneration").isNumber());
    }

    private static JsonNode generation(String runPath, long generation) {
        for (JsonNode g : orchestrator.poll(runPath + "/generations")) {
            if (g.path("generation").asLong() == generation) {
                return g;
            }
        }
        throw new AssertionError("no generation " + generation);
    }

    private static JsonNode seat(JsonNode seats, int rank) {
        for (JsonNode s : seats) {
            if (s.path("rank").asInt() == rank) {
                return s;
            }
        }
        throw new AssertionError("no rank " + rank + " in " + seats);
    }

    /** A rank's metric at a step, once that rank's report has arrived (the ranks report independently). */
    private static double metric(UUID run, long generation, long step, int rank, String column) {
        return Await.until("rank " + rank + "'s metrics of step " + step + " in generation " + generation, WAIT, () -> {
            try {
                return orchestrator.metric(run, generation, step, rank, column);
            } catch (AssertionError | java.sql.SQLException notYet) {
                return Double.NaN;
            }
        }, v -> !Double.isNaN(v));
    }

    private static void awaitStep(UUID run, long generation, long step) {
        Await.until("generation " + generation + " to report step " + step, WAIT,
                () -> orchestrator.maxStep(run, generation) >= step);
    }
}
