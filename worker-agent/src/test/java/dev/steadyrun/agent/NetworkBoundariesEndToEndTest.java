package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.FaultyTrainerLauncher;
import dev.steadyrun.agent.testing.NetworkNamespaces;
import dev.steadyrun.agent.testing.NetworkNamespaces.Host;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.RealOrchestrator;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.MissingNode;

/**
 * The system across real network boundaries (issue 17): four hosts made of Linux network namespaces
 * ({@link NetworkNamespaces}), each with its own addresses on a control network (to the orchestrators) and a data
 * network (to its peers). An active and a standby orchestrator (real Boot jars, one PostgreSQL database) run in the
 * root namespace on the control bridge; a real agent with real trainer-engine trainers runs in each host namespace,
 * knows both orchestrator URLs and advertises its data address. One run of three data-parallel ranks and a spare
 * goes through the stories in order: the ranks meet across hosts, the active orchestrator is SIGKILLed, a host is cut
 * off from the network, a host is cut off from its peers only.
 *
 * <p>Needs root and {@code ip} (iproute2). Without them the class is skipped, unless {@code STEADYRUN_REQUIRE_NETNS=1}
 * (as {@code .ci/run} sets): then it fails. {@code -Dsteadyrun.netns.failovers=N} kills the active orchestrator N
 * times (default 1); the measured failover times are printed and written to {@code measurements.txt}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NetworkBoundariesEndToEndTest {

    private static final int WORLD = 3;
    private static final int FAILOVERS = Integer.getInteger("steadyrun.netns.failovers", 1);
    /** Detection, stops, restore and the first new steps on a busy 2-core machine. */
    private static final Duration RECOVERY = Duration.ofMinutes(4);
    /** An orchestrator's start-up: minutes when the machine's cores are shared by several builds. */
    private static final Duration BOOT = Duration.ofMinutes(6);
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    /** A partition is seen by a ring that gets nothing for this long (the trainer's default is 60 s). */
    private static final int PEER_TIMEOUT_SECONDS = 15;

    private static Path dir;
    private static NetworkNamespaces net;
    private static RealOrchestrator orchestrator;
    private static RealOrchestrator standby;
    private static final Map<String, Process> agents = new LinkedHashMap<>();
    private static final Map<String, Host> hostOf = new LinkedHashMap<>();
    private static final List<String> measurements = new ArrayList<>();
    private static String trainerCommand;
    private static Path location;
    private static UUID runId;

    @BeforeAll
    static void buildTheHostsAndStartTheSystem() throws Exception {
        String missing = NetworkNamespaces.unavailableBecause();
        if (missing != null) {
            String why = "network namespaces unavailable: " + missing;
            if ("1".equals(System.getenv(NetworkNamespaces.REQUIRE_ENV))) {
                fail(why + " (" + NetworkNamespaces.REQUIRE_ENV + "=1: required here)");
            }
            Assumptions.assumeTrue(false, why + "; skipped (run as root with iproute2, or set "
                    + NetworkNamespaces.REQUIRE_ENV + "=1 to make this a failure)");
        }
        dir = Files.createTempDirectory("netns-e2e");
        System.out.println("network end-to-end logs in " + dir);
        net = NetworkNamespaces.create(4);
        // 2 s beats, a 5 s lease: a busy machine stalls an agent for seconds, which must not read as a lost node
        List<String> settings = List.of("--steadyrun.fleet.heartbeat-interval=2s",
                "--steadyrun.scheduling.pass-interval=500ms");
        orchestrator = new RealOrchestrator("steadyrun_netns_it", dir.resolve("orchestrator-1.log"), settings);
        standby = orchestrator.replica(dir.resolve("orchestrator-2.log"));
        orchestrator.start(BOOT);
        standby.start(BOOT);

        String cp = System.getProperty("java.class.path");
        String realTrainer = Processes.java() + " -Xmx768m -XX:TieredStopAtLevel=1 -cp " + cp + " dev.steadyrun.trainer.Main";
        // one ND4J thread per trainer: three trainers share the machine's cores with everything else
        trainerCommand = FaultyTrainerLauncher.trainerCommand(dir, realTrainer, "--set threads=1 --set keepCheckpoints=50"
                + " --set peerTimeoutSeconds=" + PEER_TIMEOUT_SECONDS + " --set rendezvousTimeoutSeconds=60");
        for (Host h : net.hosts()) {
            String name = "netns-h" + h.index();
            hostOf.put(name, h);
            startAgent(name);
        }
        for (String name : hostOf.keySet()) {
            Await.until(name + " to be HEALTHY", Duration.ofMinutes(4), () -> orchestrator.nodeState(name).equals("HEALTHY"));
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        Processes.stopAll(agents.values(), dir);
        if (orchestrator != null) {
            orchestrator.close();
        }
        if (standby != null) {
            standby.close();
        }
        if (net != null) {
            net.close();
        }
        if (dir != null) {
            if (location != null && Files.exists(location)) {
                try (var all = Files.walk(location)) {
                    for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
            Files.write(dir.resolve("measurements.txt"), measurements);
            measurements.forEach(m -> System.out.println("measured: " + m));
            System.out.println("network end-to-end logs in " + dir);
        }
    }

    @Test
    @Order(1)
    void dataParallelRanksMeetAcrossHostsByTheirAdvertisedAddresses() throws Exception {
        location = dir.resolve("ckpt");
        Files.createDirectories(location);
        JsonNode run = orchestrator.post("/api/v1/runs", """
                {"name":"netns","model":{"size":"tiny"},"data":{"path":"europarl"},"worldSize":%d,"spares":1,
                 "hyper":{"batchTokens":%d},"checkpointInterval":2,"checkpointLocation":"%s",
                 "recoveryPolicy":{"backoffInitial":"PT1S","backoffMax":"PT4S","hangFloor":"PT2M"}}"""
                .formatted(WORLD, 128 * WORLD, location));
        runId = UUID.fromString(run.path("id").asString());
        Await.until("the run's first steps", RECOVERY, () -> run().path("lastStep").asLong() >= 2);

        JsonNode first = generations().get(0);
        List<Host> seats = new ArrayList<>();
        for (int r = 0; r < WORLD; r++) {
            seats.add(hostOf.get(seat(first.path("ranks"), r).path("nodeName").asString()));
        }
        assertThat(seats).as("one rank per host").doesNotHaveDuplicates();
        List<Long> trainers = Await.until("a trainer per rank", RECOVERY, () -> trainerPids(1, null),
                l -> l.size() == WORLD);
        String rendezvous = "--rendezvous " + seats.get(0).dataAddress() + ":";
        for (int r = 0; r < WORLD; r++) {
            long pid = trainerPids(1, r).get(0);
            Host h = seats.get(r);
            assertThat(NetworkNamespaces.namespaceOf(pid)).as("rank %d runs on its host %s", r, h.namespace())
                    .isEqualTo(NetworkNamespaces.namespaceOf(agents.get("netns-h" + h.index()).pid()));
            assertThat(Processes.commandLine(pid)).as("rank %d meets rank 0 at its advertised data address", r)
                    .contains(rendezvous);
            List<String> peers = NetworkNamespaces.establishedPeers(pid);
            for (Host other : seats) {
                if (other != h) {
                    assertThat(peers).as("rank %d's ring connections (TCP in %s)", r, h.namespace())
                            .contains(other.dataAddress()).doesNotContain(other.controlAddress());
                }
            }
        }
        assertThat(trainers).allMatch(Processes::running);
        long step = run().path("lastStep").asLong();
        Await.until("the step to rise", RECOVERY, () -> run().path("lastStep").asLong() > step + 1);
        assertThat(run().path("generation").asLong()).isEqualTo(1);
    }

    @Test
    @Order(2)
    void killingTheActiveOrchestratorStopsNoTrainerOpensNoIncidentAndTheStepKeepsRising() throws Exception {
        assertThat(standby.probe("readiness")).as("the standby waits, not ready").isEqualTo(503);
        List<Long> trainers = trainerPids(1, null);
        assertThat(trainers).hasSize(WORLD);
        long generation = run().path("generation").asLong();
        int incidents = orchestrator.get("/api/v1/runs/" + runId + "/incidents").size();
        int restarts = run().path("restarts").asInt();
        List<Double> seconds = new ArrayList<>();
        for (int round = 1; round <= FAILOVERS; round++) {
            long stepBefore = run().path("lastStep").asLong();
            orchestrator.crash();
            long killed = System.nanoTime();
            Await.until("the standby to be ready", Duration.ofMinutes(1), () -> ready(standby));
            double took = (System.nanoTime() - killed) / 1e9;
            seconds.add(took);
            measurements.add(String.format("failover %d: standby ready %.2f s after the active orchestrator's SIGKILL",
                    round, took));
            RealOrchestrator dead = orchestrator;
            orchestrator = standby;
            standby = dead;
            Await.until("steps made after failover " + round + " to reach the new active orchestrator", RECOVERY,
                    () -> run().path("lastStep").asLong() > stepBefore + 1);
            if (round < FAILOVERS) {
                standby.start(BOOT); // the killed one comes back as the standby
            }
        }
        seconds.sort(Double::compare);
        measurements.add(String.format("failover median %.2f s of %d (max %.2f s)", seconds.get(seconds.size() / 2),
                seconds.size(), seconds.get(seconds.size() - 1)));

        assertThat(trainers).as("the same trainer processes ran through every failover").allMatch(Processes::running);
        assertThat(trainerPids(1, null)).containsExactlyInAnyOrderElementsOf(trainers);
        assertThat(run().path("generation").asLong()).as("no restart of the training").isEqualTo(generation);
        assertThat(run().path("restarts").asInt()).isEqualTo(restarts);
        assertThat(run().path("state").asString()).isEqualTo("RUNNING");
        assertThat(orchestrator.get("/api/v1/runs/" + runId + "/incidents").size()).as("no incident").isEqualTo(incidents);
        for (String name : hostOf.keySet()) {
            assertThat(orchestrator.nodeState(name)).as(name).isIn("HEALTHY", "SPARE");
        }
    }

    @Test
    @Order(3)
    void aHostCutOffFromTheNetworkIsDeclaredLostAndItsRankMovesToTheSpare() throws Exception {
        long checkpoint = awaitCheckpointAndStepsPastIt();
        JsonNode current = currentGeneration();
        String victim = seat(current.path("ranks"), 1).path("nodeName").asString();
        String spare = current.path("spares").get(0).path("nodeName").asString();

        net.cutAll(hostOf.get(victim));
        try {
            JsonNode incident = awaitRecovered("NODE_LOST", i -> victim.equals(i.path("nodeName").asString()));
            assertThat(incident.path("rank").asInt()).isEqualTo(1);
            assertThat(incident.path("swappedIn").path("nodeName").asString()).as("the spare took the rank")
                    .isEqualTo(spare);
            long restored = incident.path("restoreFrom").path("step").asLong();
            assertThat(restored).isGreaterThanOrEqualTo(checkpoint);
            long generation = incident.path("newGeneration").asLong();
            assertThat(seat(generation(generation).path("ranks"), 1).path("nodeName").asString()).isEqualTo(spare);
            awaitStepsAtGeneration(generation, restored + 2);
            measurements.add(describe("host cut off (NODE_LOST)", awaitRecoveredAt(incident)));
        } finally {
            net.reconnect(hostOf.get(victim));
        }
        // back on the network, its agent reports to the orchestrator again; the operator readmits it
        Await.until(victim + " to be FAILED", Duration.ofMinutes(1), () -> orchestrator.nodeState(victim).equals("FAILED"));
        orchestrator.post("/api/v1/nodes/" + orchestrator.nodeId(victim) + "/uncordon", "{\"reason\":\"network back\"}");
        Await.until(victim + " to be back", Duration.ofMinutes(1),
                () -> List.of("HEALTHY", "SPARE").contains(orchestrator.nodeState(victim)));
    }


    @Test
    @Order(4)
    void aHostCutOffFromItsPeersButNotFromTheOrchestratorIsNamedAndItsRankMoves() throws Exception {
        long checkpoint = awaitCheckpointAndStepsPastIt();
        JsonNode current = currentGeneration();
        long generation = current.path("generation").asLong();
        int victimRank = 2;
        String victim = seat(current.path("ranks"), victimRank).path("nodeName").asString();
        List<String> peers = new ArrayList<>();
        for (int r = 0; r < WORLD; r++) {
            if (r != victimRank) {
                peers.add(seat(current.path("ranks"), r).path("nodeName").asString());
            }
        }
        Host cut = hostOf.get(victim);

        net.cutData(cut);
        try {
            JsonNode incident = awaitRecovered("PEER_UNREACHABLE", i -> i.path("generation").asLong() == generation);
            assertThat(incident.path("nodeName").asString()).as("the node cut off from its peers").isEqualTo(victim);
            assertThat(incident.path("rank").asInt()).isEqualTo(victimRank);
            assertThat(incident.path("summary").asString()).contains(victim).contains("cut off from its peers");
            JsonNode evidence = incident.path("evidence");
            assertThat(evidence.path("cutOffNode").asString()).isEqualTo(victim);
            assertThat(evidence.path("exitCode").asInt()).as("a \"peer lost\" exit").isEqualTo(5);
            JsonNode check = evidence.path("peerCheck");
            if (check.path("reporterRank").asInt() == victimRank) {
                assertThat(check.path("reachableRanks").size()).as("it reached neither neighbour").isZero();
            } else {
                assertThat(check.path("reporterNode").asString()).isIn(peers);
                assertThat(check.path("unreachableRanks").toString()).isEqualTo("[" + victimRank + "]");
            }
            assertThat(orchestrator.nodeState(victim)).as("its heartbeats went on: not lost").isIn("HEALTHY", "SPARE");
            assertThat(incidents()).as("no node was declared lost for it")
                    .noneMatch(i -> i.path("generation").asLong() == generation
                            && i.path("kind").asString().equals("NODE_LOST"));

            // the peers' "peer lost" exits: a neighbour whose ring went silent names the rank it could not reach
            // (the other one may have seen a closed connection first); the cut-off rank's own check, when it was
            // not stopped before it finished, says it reached nobody
            StringBuilder peerLogs = new StringBuilder();
            for (String peer : peers) {
                String log = trainerLog(peer, generation);
                assertThat(log).as("%s's trainer exited on a lost peer", peer).contains("peer lost");
                peerLogs.append(log);
            }
            assertThat(peerLogs.toString()).as("a peer's check names the cut-off rank")
                    .containsPattern("steadyrun peer check: \\{\"rank\":\\d,\"worldSize\":3,\"unreachable\":\\["
                            + victimRank + "\\]");
            System.out.println("the cut-off rank's own log ends: " + tail(trainerLog(victim, generation), 3));

            long next = incident.path("newGeneration").asLong();
            for (JsonNode s : generation(next).path("ranks")) {
                assertThat(s.path("nodeName").asString()).as("the new ring leaves the cut-off node out")
                        .isNotEqualTo(victim);
            }
            long restored = incident.path("restoreFrom").path("step").asLong();
            assertThat(restored).isGreaterThanOrEqualTo(checkpoint);
            awaitStepsAtGeneration(next, restored + 2);
            measurements.add(describe("host cut off from its peers (PEER_UNREACHABLE)", awaitRecoveredAt(incident)));
        } finally {
            net.reconnect(cut);
        }
    }


    // --- the run ---

    private static JsonNode run() {
        return orchestrator.poll("/api/v1/runs/" + runId);
    }

    private static long awaitCheckpointAndStepsPastIt() {
        JsonNode cp = Await.until("a checkpoint", RECOVERY,
                () -> orchestrator.poll("/api/v1/runs/" + runId + "/checkpoints"),
                a -> a.isArray() && !a.isEmpty()).get(0);
        long step = cp.path("step").asLong();
        Await.until("a step past checkpoint " + step, RECOVERY, () -> run().path("lastStep").asLong() > step);
        return step;
    }

    private static List<JsonNode> generations() {
        List<JsonNode> out = new ArrayList<>();
        orchestrator.poll("/api/v1/runs/" + runId + "/generations").forEach(out::add);
        return out;
    }

    private static JsonNode generation(long generation) {
        return generations().stream().filter(g -> g.path("generation").asLong() == generation).findFirst()
                .orElseThrow(() -> new AssertionError("no generation " + generation + " in " + generations()));
    }

    private static JsonNode currentGeneration() {
        return generation(run().path("generation").asLong());
    }

    private static JsonNode seat(JsonNode seats, int rank) {
        for (JsonNode s : seats) {
            if (s.path("rank").asInt() == rank) {
                return s;
            }
        }
        throw new AssertionError("no rank " + rank + " in " + seats);
    }

    private static JsonNode awaitRecovered(String kind, Predicate<JsonNode> which) {
        return Await.until("a " + kind + " incident with a new generation", RECOVERY,
                () -> incident(kind, which), i -> !i.isMissingNode() && i.path("newGeneration").isNumber());
    }

    private static JsonNode incident(String kind, Predicate<JsonNode> which) {
        for (JsonNode i : orchestrator.poll("/api/v1/runs/" + runId + "/incidents")) {
            if ((kind == null || kind.equals(i.path("kind").asString())) && which.test(i)) {
                return i;
            }
        }
        return MissingNode.getInstance();
    }

    private static List<JsonNode> incidents() {
        List<JsonNode> out = new ArrayList<>();
        orchestrator.poll("/api/v1/runs/" + runId + "/incidents").forEach(out::add);
        return out;
    }

    /** The whole log of the node's trainer of that generation (the agent keeps one file per run, rank, generation). */
    private static String trainerLog(String node, long generation) throws IOException {
        try (var files = Files.list(dir.resolve("trainer-logs-" + node))) {
            StringBuilder out = new StringBuilder();
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("trainer-" + runId + "-rank")
                    && f.getFileName().toString().endsWith("-gen" + generation + ".log")).toList()) {
                out.append(Files.readString(f));
            }
            return out.toString();
        }
    }

    private static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private static JsonNode awaitRecoveredAt(JsonNode incident) {
        long id = incident.path("id").asLong();
        return Await.until("incident " + id + " to be recovered", RECOVERY,
                () -> incident(null, i -> i.path("id").asLong() == id), i -> i.path("recoveredAt").isString());
    }

    private static void awaitStepsAtGeneration(long generation, long step) {
        Await.until("generation " + generation + " to report step " + step, RECOVERY,
                () -> orchestrator.maxStep(runId, generation) >= step);
    }

    private static String describe(String what, JsonNode incident) {
        return "%s: detection latency %s s, detection to first new step %s s (incident %d, generation %d → %d)"
                .formatted(what, incident.path("detectionLatencySeconds"), incident.path("timeToRecoverySeconds"),
                        incident.path("id").asLong(), incident.path("generation").asLong(),
                        incident.path("newGeneration").asLong());
    }

    // --- processes ---

    /** The agent, in its host's namespace, with both orchestrators' URLs at the control bridge. */
    private static void startAgent(String name) throws IOException {
        Host h = hostOf.get(name);
        String gateway = net.controlGateway();
        List<String> argv = List.of(Processes.java(), "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(),
                "--url", orchestrator.url(gateway) + "," + standby.url(gateway),
                "--join-token", RealOrchestrator.JOIN_TOKEN,
                "--node-name", name, "--advertise-host", h.dataAddress(), "--labels", "rack=netns",
                "--checkpoint-root", dir.resolve("agent-" + name).toString(),
                "--state-dir", dir.resolve("state-" + name).toString(),
                "--stop-grace", STOP_GRACE.toSeconds() + "s", "--report-flush", "250ms",
                "--trainer-log-dir", dir.resolve("trainer-logs-" + name).toString(),
                "--fake-gpus", "1", "--warm-restart", "false", "--hot-spare", "false", // trainers found by command line
                "--trainer-command", trainerCommand);
        Process p = new ProcessBuilder(net.inside(h, argv)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("agent-" + name + ".log").toFile()))
                .start();
        agents.put(name, p);
    }

    /** This run's trainer JVMs of one generation (and rank; null: all), not their wrapper shells. */
    private static List<Long> trainerPids(long generation, Integer rank) {
        return Processes.withCommandLineContaining(location.toString()).stream()
                .filter(pid -> {
                    String cmd = Processes.commandLine(pid);
                    return !cmd.startsWith("/bin/sh") && cmd.contains("dev.steadyrun.trainer.Main train ")
                            && cmd.contains("--generation " + generation + " ")
                            && (rank == null || cmd.contains("--rank " + rank + " "));
                })
                .toList();
    }

    // --- the API ---

    private static boolean ready(RealOrchestrator o) {
        try {
            return o.probe("readiness") == 200;
        } catch (Exception e) {
            return false;
        }
    }

}
