package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import dev.steadyrun.agent.sim.Scenario;
import dev.steadyrun.agent.sim.SimulatedFleet;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.RealOrchestrator;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.MissingNode;

/**
 * The agent against the REAL orchestrator (its Boot jar as a child process, real PostgreSQL) with the REAL
 * trainer-engine as its child: one story in order, because starting the orchestrator and a trainer is what
 * costs the time. The agent itself is a child JVM too, so that it can be killed with SIGKILL.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentEndToEndTest {

    /** Steps of the tiny model take seconds on a busy 2-core machine, the first one tens of seconds. */
    private static final Duration SLOW = Duration.ofMinutes(4);
    private static final Duration STOP_GRACE = Duration.ofSeconds(20);

    private static Path dir;
    /** The orchestrator serving the tests: the first one, then the standby that took over from it. */
    private static RealOrchestrator orchestrator;
    private static RealOrchestrator standby;
    private static Process agent;
    private static String checkpointRoot;
    private static UUID nodeId;
    private static UUID runId;
    private static long trainerPid;

    @BeforeAll
    static void startOrchestratorAndAgent() throws Exception {
        dir = Files.createTempDirectory("agent-e2e");
        checkpointRoot = dir.resolve("checkpoints").toString();
        orchestrator = new RealOrchestrator("steadyrun_agent_it", dir.resolve("orchestrator.log"), List.of(
                // Derived from 250 ms beats: lease 625 ms, quiet grace 1.5 s, agent backoff cap 625 ms. After the
                // orchestrator's restart the grace counts from when it takes requests again, so the reattaching
                // agent (retrying at most 1 s apart) arrives in time.
                "--steadyrun.fleet.heartbeat-interval=250ms",
                "--steadyrun.scheduling.pass-interval=500ms"));
        orchestrator.start(Duration.ofMinutes(3));
        standby = orchestrator.replica(dir.resolve("standby.log")); // started by the failover test
        String cp = System.getProperty("java.class.path");
        String java = Processes.java();
        agent = new ProcessBuilder(java, "-Xmx128m", "-cp", cp, Main.class.getName(),
                "--url", orchestrator.url() + "," + standby.url(), "--join-token", RealOrchestrator.JOIN_TOKEN,
                "--node-name", "e2e-node", "--labels", "rack=e2e", "--checkpoint-root", checkpointRoot,
                "--state-dir", dir.resolve("state").toString(),
                "--stop-grace", STOP_GRACE.toSeconds() + "s", "--report-flush", "250ms",
                // the cold path: these stories watch trainer processes come and go (warm: WarmRestartTest)
                "--warm-restart", "false", "--hot-spare", "false",
                "--trainer-command", java + " -Xmx1g -cp " + cp + " dev.steadyrun.trainer.Main")
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile()).start();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (agent != null) {
            agent.destroyForcibly();
        }
        // anything of ours still running (a failed test), found by the checkpoint root in its command line
        Processes.withCommandLineContaining(checkpointRoot)
                .forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        if (orchestrator != null) {
            orchestrator.close();
        }
        if (standby != null) {
            standby.close();
        }
        System.out.println("agent end-to-end logs in " + dir);
    }

    @Test
    @Order(1)
    void registersAndRenewsItsLease() throws Exception {
        JsonNode node = Await.until("the node to be HEALTHY", Duration.ofMinutes(1), () -> nodeNamed("e2e-node"),
                n -> n.isPresent() && n.get().path("state").asString().equals("HEALTHY")).orElseThrow();
        nodeId = UUID.fromString(node.path("id").asString());
        assertThat(node.path("labels").path("rack").asString()).isEqualTo("e2e");
        assertThat(node.path("labels").path("gpu").asString()).as("a CPU-only node says so").isEqualTo("none");

        Instant seen = Instant.parse(node.path("lastSeenAt").asString());
        Await.until("the lease to be renewed", Duration.ofSeconds(10),
                () -> Instant.parse(nodeDetailUnchecked().path("node").path("lastSeenAt").asString()).isAfter(seen));
    }

    @Test
    @Order(2)
    void anAssignmentStartsARealTrainerWhoseMetricsArrive() throws Exception {
        // data path "europarl" names the trainer-engine's built-in sample; it refuses the orchestrator's "sample:europarl"
        JsonNode run = orchestrator.post("/api/v1/runs", """
                {"name":"agent-e2e","model":{"size":"tiny"},"data":{"path":"europarl"},"worldSize":1,
                 "checkpointInterval":2,"checkpointLocation":"%s"}""".formatted(checkpointRoot));
        runId = UUID.fromString(run.path("id").asString());

        Await.until("step metrics of the run", SLOW, () -> metricSteps().size() >= 2, ok -> ok);
        List<Long> trainers = trainerJvms();
        assertThat(trainers).as("one trainer JVM").hasSize(1);
        trainerPid = trainers.get(0);
        assertThat(ancestors(trainerPid)).as("the trainer is the agent's grandchild (agent → wrapper → trainer)")
                .contains(agent.pid());
        JsonNode trainer = nodeDetail().path("trainer");
        assertThat(trainer.path("runId").asString()).isEqualTo(runId.toString());
        assertThat(trainer.path("generation").asLong()).isEqualTo(1);
        assertThat(trainer.path("state").asString()).isEqualTo("RUNNING");
    }

    @Test
    @Order(3)
    void aStopEndsTheTrainerAndANewGenerationStartsAFreshOne() throws Exception {
        orchestrator.post("/api/v1/runs/" + runId + "/pause", null);
        JsonNode exited = Await.until("the trainer to exit on STOP", STOP_GRACE.plusSeconds(60),
                () -> nodeDetailUnchecked().path("trainer"),
                t -> t.path("state").asString().equals("EXITED") && t.path("generation").asLong() == 1);
        assertThat(exited.path("exitCode").asInt()).as("SIGTERM, or SIGKILL after the grace").isIn(143, 137);
        assertThat(exited.path("logTail").size()).isPositive();
        Await.until("the old trainer process to be gone", Duration.ofSeconds(10), () -> !Processes.running(trainerPid));

        // the run is PAUSED once the scheduling pass released the stopped placement; resuming before is a 409
        Await.until("the run to be paused", Duration.ofMinutes(1), () -> runState().equals("PAUSED"));
        orchestrator.post("/api/v1/runs/" + runId + "/resume", null);
        JsonNode next = Await.until("a newer generation's trainer", Duration.ofMinutes(1),
                () -> nodeDetailUnchecked().path("trainer"),
                t -> t.path("generation").asLong() > 1 && !t.path("state").asString().equals("EXITED"));
        assertThat(next.path("state").asString()).isIn("STARTING", "RUNNING");
        List<Long> trainers = trainerJvms();
        assertThat(trainers).hasSize(1).doesNotContain(trainerPid);
        trainerPid = trainers.get(0);
    }

    @Test
    @Order(4)
    void theTrainerKeepsRunningThrough30SecondsWithoutOrchestratorAndTheAgentReattaches() throws Exception {
        Await.until("the new generation's first steps", SLOW, () -> nodeDetailUnchecked().path("trainer"),
                t -> t.path("state").asString().equals("RUNNING"));
        long generation = orchestrator.get("/api/v1/runs/" + runId).path("generation").asLong();
        long stepBefore = lastMetricStep();
        orchestrator.crash();
        long downUntil = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < downUntil) {
            assertThat(Processes.running(trainerPid)).as("trainer alive while the orchestrator is down").isTrue();
            Thread.sleep(1000);
        }
        orchestrator.start(Duration.ofMinutes(3));

        Await.until("the node to report its running trainer to the restarted orchestrator", Duration.ofMinutes(1),
                () -> {
                    JsonNode d = nodeDetailUnchecked();
                    return d.path("node").path("state").asString().equals("HEALTHY")
                            && d.path("trainer").path("state").asString().equals("RUNNING");
                });
        Await.until("steps made during and after the outage to arrive", SLOW, () -> lastMetricStep() > stepBefore + 1,
                ok -> ok);
        assertThat(Processes.running(trainerPid)).as("the same trainer process survived").isTrue();
        assertThat(trainerJvms()).containsExactly(trainerPid);
        JsonNode run = orchestrator.get("/api/v1/runs/" + runId);
        assertThat(run.path("generation").asLong()).as("no restart of the training").isEqualTo(generation);
        assertThat(nodeDetail().path("trainer").path("generation").asLong()).isEqualTo(generation);
    }

    @Test
    @Order(5)
    void aStandbyTakesOverFromAKilledActiveOrchestratorAndNoTrainerStops() throws Exception {
        standby.start(Duration.ofMinutes(3));
        assertThat(standby.probe("readiness")).as("a standby is not ready").isEqualTo(503);
        assertThat(standby.status("/api/v1/runs")).as("nor does it serve the API").isEqualTo(503);
        Await.until("the trainer to be running", SLOW, () -> nodeDetailUnchecked().path("trainer"),
                t -> t.path("state").asString().equals("RUNNING"));
        long generation = orchestrator.get("/api/v1/runs/" + runId).path("generation").asLong();
        int incidents = orchestrator.get("/api/v1/runs/" + runId + "/incidents").size();
        long stepBefore = lastMetricStep();

        orchestrator.crash();
        long killed = System.nanoTime();
        Await.until("the standby to be ready", Duration.ofMinutes(1), () -> ready(standby));
        System.out.printf("standby ready %.1f s after the active orchestrator was killed%n",
                (System.nanoTime() - killed) / 1e9);
        RealOrchestrator dead = orchestrator;
        orchestrator = standby;
        standby = dead;

        Await.until("steps made after the failover to arrive at the new active orchestrator", SLOW,
                () -> lastMetricStep() > stepBefore + 1, ok -> ok);
        assertThat(Processes.running(trainerPid)).as("the same trainer process ran through the failover").isTrue();
        assertThat(trainerJvms()).containsExactly(trainerPid);
        assertThat(orchestrator.get("/api/v1/runs/" + runId).path("generation").asLong())
                .as("no restart of the training").isEqualTo(generation);
        assertThat(orchestrator.get("/api/v1/runs/" + runId + "/incidents").size()).as("no incident")
                .isEqualTo(incidents);
        assertThat(nodeDetail().path("node").path("state").asString()).isEqualTo("HEALTHY");
    }

    @Test
    @Order(6)
    void sigkillOfTheAgentLeavesNoTrainerBehind() throws Exception {
        List<Long> ours = Processes.withCommandLineContaining(checkpointRoot);
        assertThat(ours).as("wrapper and trainer").hasSizeGreaterThanOrEqualTo(2).contains(trainerPid);
        Processes.kill("KILL", agent.pid());
        agent.waitFor();

        Await.until("the trainer's whole process group to be gone", STOP_GRACE.plusSeconds(15),
                () -> ours.stream().noneMatch(Processes::running));
        assertThat(Processes.withCommandLineContaining(checkpointRoot)).isEmpty();
    }

    @Test
    @Order(7)
    void aHundredAndFiftySimulatedAgentsRegisterAndHeartbeat() throws Exception {
        Scenario scenario = Scenario.parse("""
                {"stepMillis":500,"maxSteps":100000,"checkpointEvery":20,"tokensPerStep":1024,
                 "loss":{"initial":10.8,"floor":3.0,"halfLifeSteps":200,"noise":0.02}}""");
        try (SimulatedFleet fleet = new SimulatedFleet(orchestrator.url(), RealOrchestrator.JOIN_TOKEN, 150, 8,
                scenario, 8, "e2e-sim", 7)) {
            fleet.start();
            Await.until("150 registrations", Duration.ofMinutes(2), () -> fleet.registered() == 150);
            Await.until("every simulated node to renew its lease 5 times", Duration.ofMinutes(2),
                    () -> fleet.nodes().stream().allMatch(n -> n.lease().heartbeats() >= 5));
            JsonNode page = orchestrator.get("/api/v1/nodes?label=simulated=true&size=500&state=HEALTHY");
            assertThat(page.path("total").asLong()).isEqualTo(150);
            assertThat(page.path("items").get(0).path("gpus").size()).isEqualTo(8);
        }
    }

    private static Optional<JsonNode> nodeNamed(String name) {
        try {
            for (JsonNode n : orchestrator.get("/api/v1/nodes?size=500").path("items")) {
                if (n.path("name").asString().equals(name)) {
                    return Optional.of(n);
                }
            }
            return Optional.empty();
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    private static String runState() {
        try {
            return orchestrator.get("/api/v1/runs/" + runId).path("state").asString();
        } catch (Exception e) {
            return "";
        }
    }

    private static boolean ready(RealOrchestrator o) {
        try {
            return o.probe("readiness") == 200;
        } catch (Exception e) {
            return false;
        }
    }

    private static JsonNode nodeDetail() throws Exception {
        return orchestrator.get("/api/v1/nodes/" + nodeId);
    }

    private static JsonNode nodeDetailUnchecked() {
        try {
            return nodeDetail();
        } catch (Exception e) {
            return MissingNode.getInstance(); // a moment without an answer: the caller polls again
        }
    }

    private static List<Long> metricSteps() {
        try {
            List<Long> steps = new ArrayList<>();
            orchestrator.get("/api/v1/runs/" + runId + "/metrics").path("points")
                    .forEach(p -> steps.add(p.path("step").asLong()));
            return steps;
        } catch (Exception e) {
            return List.of();
        }
    }

    private static long lastMetricStep() {
        return metricSteps().stream().mapToLong(Long::longValue).max().orElse(-1);
    }

    /** Trainer JVMs of this test (not their wrapper shells, not the agent, whose flags name the same things). */
    private static List<Long> trainerJvms() {
        return Processes.withCommandLineContaining(checkpointRoot).stream()
                .filter(pid -> Processes.commandLine(pid).contains("dev.steadyrun.trainer.Main train "))
                .filter(pid -> !Processes.commandLine(pid).startsWith("/bin/sh"))
                .toList();
    }

    private static List<Long> ancestors(long pid) {
        List<Long> out = new ArrayList<>();
        Optional<ProcessHandle> p = ProcessHandle.of(pid).flatMap(ProcessHandle::parent);
        while (p.isPresent()) {
            out.add(p.get().pid());
            p = p.get().parent();
        }
        return out;
    }
}
