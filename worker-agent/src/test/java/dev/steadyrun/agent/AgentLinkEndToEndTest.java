package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import dev.steadyrun.agent.lease.OrchestratorClient;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.DelayProxy;
import dev.steadyrun.agent.testing.FaultyTrainerLauncher;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.RealOrchestrator;
import dev.steadyrun.protocol.LeaseTimings;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.MissingNode;

/**
 * The link between agents and the real orchestrator (issue 17), with nothing simulated: the orchestrator's Boot jar
 * serving HTTPS with exactly the environment the Helm chart gives it when {@code tls.enabled} (read from the chart's
 * template, the certificate made here by keytool), a real agent trusting the CA through the chart's
 * {@code STEADYRUN_CA_FILE}, training a real trainer-engine process, and between the two a {@link DelayProxy} that
 * delays each direction by 100 ms.
 *
 * <p>In order: an agent without the CA is refused and says why; the trusting agent registers, trains, and through
 * {@link #OBSERVED} of heartbeats over the slow link is never judged lost; and a delay beyond the lease tolerance
 * IS judged a lost node (the bound, so that the no-loss check can fail).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentLinkEndToEndTest {

    private static final Duration SLOW_LINK = Duration.ofMillis(100);
    /**
     * The heartbeat interval (system property {@code steadyrun.e2e.linkHeartbeatMillis}): 2 s by default, not the
     * production 1 s, because on a 2-core machine shared at load 25 a trainer JVM's start-up has stalled heartbeats
     * past a 2.5 s lease even without any delay (seen). On a quiet machine, run it with 1000.
     */
    private static final Duration HEARTBEAT = Duration.ofMillis(Long.getLong("steadyrun.e2e.linkHeartbeatMillis",
            2000));
    /** The agent's request timeout: longer than a round trip at the delay beyond the lease tolerance. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration OBSERVED = Duration.ofSeconds(30);
    private static final Duration SLOW = Duration.ofMinutes(3);
    private static final String PASSWORD = "changeit";
    private static final Path CHART = Path.of("..", "helm", "steadyrun", "templates");

    private static Path dir;
    private static Path ca;
    private static RealOrchestrator orchestrator;
    private static DelayProxy link;
    private static Process agent;
    private static Path location;
    private static UUID runId;
    private static final List<Process> others = new ArrayList<>();

    @BeforeAll
    static void startHttpsOrchestrator() throws Exception {
        dir = Files.createTempDirectory("agent-link-e2e");
        System.out.println("agent link end-to-end logs in " + dir);
        Path tls = Files.createDirectories(dir.resolve("tls"));
        ca = certificate(tls);
        Map<String, String> env = chartTlsEnvironment("orchestrator.yaml", "/etc/steadyrun/tls/", tls);
        assertThat(env).as("the chart's TLS settings of the orchestrator")
                .containsEntry("SERVER_SSL_ENABLED", "true").containsKey("SERVER_SSL_CERTIFICATE");
        int rendezvousPort;
        try (ServerSocket s = new ServerSocket(0)) {
            rendezvousPort = s.getLocalPort();
        }
        orchestrator = new RealOrchestrator(RealOrchestrator.SHARED_SERVER, "steadyrun_link_it",
                dir.resolve("orchestrator.log"), List.of("--steadyrun.fleet.heartbeat-interval=" + HEARTBEAT.toMillis()
                        + "ms",
                "--steadyrun.scheduling.pass-interval=500ms", "--steadyrun.scheduling.rendezvous-port="
                        + rendezvousPort), env, OrchestratorClient.trusting(ca));
        orchestrator.start(Duration.ofMinutes(3)); // waits for /livez over HTTPS
        link = new DelayProxy(new InetSocketAddress("127.0.0.1", orchestrator.url().getPort()), SLOW_LINK);
        location = dir.resolve("checkpoints");
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (agent != null) {
            agent.destroyForcibly().waitFor();
        }
        for (Process p : others) {
            p.destroyForcibly().waitFor();
        }
        if (location != null) {
            Processes.withCommandLineContaining(location.toString())
                    .forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        }
        if (link != null) {
            link.close();
        }
        if (orchestrator != null) {
            orchestrator.close();
        }
        System.out.println("agent link end-to-end logs in " + dir);
    }

    @Test
    @Order(1)
    void theProbesAnswerOverHttpsAndTheManagementPortStaysPlainHttp() throws Exception {
        // the chart's probes: /livez and /readyz on the API port, scheme HTTPS (the kubelet does not verify the
        // certificate; this test does)
        assertThat(orchestrator.probe("liveness")).isEqualTo(200);
        assertThat(orchestrator.probe("readiness")).isEqualTo(200);
        HttpClient plain = HttpClient.newHttpClient();
        // the chart's ServiceMonitor scrapes the management port over plain HTTP
        HttpResponse<String> metrics = plain.send(HttpRequest.newBuilder(orchestrator.managementUrl()
                .resolve("/actuator/prometheus")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("steadyrun_heartbeats_received");
        assertThat(plain.send(HttpRequest.newBuilder(orchestrator.managementUrl().resolve(
                "/actuator/health/readiness")).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                .isEqualTo(200);
        // and the API port speaks nothing but TLS
        URI plainApi = URI.create("http://127.0.0.1:" + orchestrator.url().getPort() + "/api/v1/runs");
        int status;
        try {
            status = plain.send(HttpRequest.newBuilder(plainApi).header("Authorization", "Bearer "
                    + RealOrchestrator.ADMIN_TOKEN).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException refused) {
            status = 0;
        }
        assertThat(status).as("plain HTTP on the HTTPS port").isNotEqualTo(200);
    }

    @Test
    @Order(2)
    void anAgentWithoutTheClustersCaIsRefusedAndSaysWhy() throws Exception {
        Path log = dir.resolve("agent-no-ca.log");
        Process p = agent("link-no-ca", orchestrator.url(), null, log);
        others.add(p);
        String refusal = Await.until("the agent to log the refused handshake", Duration.ofMinutes(1),
                () -> read(log), l -> l.contains("orchestrator call failed"));
        assertThat(refusal).contains("TLS handshake failed").contains("ca-file")
                .contains("unable to find valid certification path");
        assertThat(nodeNamed("link-no-ca").isMissingNode()).as("never registered").isTrue();
        assertThat(p.isAlive()).as("the agent keeps trying (the certificate may be re-issued)").isTrue();
        p.destroyForcibly().waitFor();
    }

    @Test
    @Order(3)
    void overHttpsAndA100msLinkTheAgentTrainsAndIsNeverJudgedLost() throws Exception {
        // the link really is slow: a request and its answer each wait 100 ms in the proxy
        HttpClient trusting = HttpClient.newBuilder().sslContext(OrchestratorClient.trusting(ca)).build();
        long sent = System.nanoTime();
        assertThat(trusting.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + link.port() + "/livez"))
                .build(), HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
        assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("round trip through the proxy")
                .isGreaterThanOrEqualTo(SLOW_LINK.multipliedBy(2));

        Instant began = Instant.now();
        agent = agent("link-a", URI.create("https://127.0.0.1:" + link.port()), ca, dir.resolve("agent-a.log"));
        Await.until("the agent behind the slow link to be HEALTHY", Duration.ofMinutes(1),
                () -> nodeNamed("link-a").path("state").asString().equals("HEALTHY"));
        JsonNode run = orchestrator.post("/api/v1/runs", """
                {"name":"slow-link","model":{"size":"tiny"},"data":{"path":"europarl"},"worldSize":1,
                 "hyper":{"batchTokens":128},"checkpointInterval":2,"checkpointLocation":"%s"}""".formatted(location));
        runId = UUID.fromString(run.path("id").asString());
        Await.until("steps reported over HTTPS through the slow link", SLOW, () -> run().path("lastStep").asLong(),
                step -> step >= 2);

        UUID node = UUID.fromString(nodeNamed("link-a").path("id").asString());
        long sequence = orchestrator.get("/api/v1/nodes/" + node).path("lastSequence").asLong();
        long stepBefore = run().path("lastStep").asLong();
        List<String> seen = new ArrayList<>();
        long until = System.nanoTime() + OBSERVED.toNanos();
        while (System.nanoTime() < until) {
            String state = nodeNamed("link-a").path("state").asString();
            if (!state.equals("HEALTHY")) {
                seen.add(Instant.now() + " " + state);
            }
            Thread.sleep(250);
        }
        long heartbeats = orchestrator.get("/api/v1/nodes/" + node).path("lastSequence").asLong() - sequence;

        assertThat(seen).as("node states other than HEALTHY while it trained behind the slow link").isEmpty();
        assertThat(judgements(node, began)).as("state changes for silence").isEmpty();
        assertThat(heartbeats).as("heartbeats over %s s (one every %s)", OBSERVED.toSeconds(), HEARTBEAT)
                .isGreaterThanOrEqualTo(OBSERVED.dividedBy(HEARTBEAT) / 2);
        JsonNode after = run();
        assertThat(after.path("generation").asLong()).as("the run never restarted").isEqualTo(1);
        assertThat(after.path("restarts").asInt()).isZero();
        assertThat(after.path("lastStep").asLong()).as("it trained on").isGreaterThan(stepBefore);
        assertThat(orchestrator.get("/api/v1/runs/" + runId + "/incidents").size()).isZero();
        System.out.printf("slow link: %d heartbeats (every %d ms) in %d s over a %d ms link (each way), node HEALTHY "
                + "throughout, steps %d → %d%n", heartbeats, HEARTBEAT.toMillis(), OBSERVED.toSeconds(),
                SLOW_LINK.toMillis(), stepBefore, after.path("lastStep").asLong());
    }

    @Test
    @Order(4)
    void aDelayBeyondTheLeaseToleranceIsJudgedANodeLoss() throws Exception {
        // Each way more than half the lease: an answer and the next heartbeat cannot arrive within a lease even
        // with no heartbeat interval at all, so the orchestrator must judge the node lost.
        LeaseTimings timings = LeaseTimings.forHeartbeat(HEARTBEAT);
        Duration beyond = timings.leaseDuration().dividedBy(2).plusMillis(250);
        // the heartbeats still get their answers, late: this is about delay, not about calls that time out
        assertThat(beyond.multipliedBy(2)).isLessThan(REQUEST_TIMEOUT.minusSeconds(5));
        UUID node = UUID.fromString(nodeNamed("link-a").path("id").asString());
        Instant from = Instant.now();
        link.setDelay(beyond);

        JsonNode lost = Await.until("the node behind a " + beyond.toMillis() + " ms link to be judged lost",
                Duration.ofMinutes(1), () -> judgements(node, from), j -> !j.isEmpty()).get(0);
        assertThat(lost.path("to").asString()).isEqualTo("SUSPECT");
        assertThat(lost.path("reason").asString()).contains("lease expired");
        JsonNode incident = Await.until("the run to open a NODE_LOST incident", Duration.ofMinutes(1),
                () -> orchestrator.poll("/api/v1/runs/" + runId + "/incidents"),
                a -> a.isArray() && !a.isEmpty()).get(0);
        assertThat(incident.path("kind").asString()).isEqualTo("NODE_LOST");
        System.out.printf("slow link: at %d ms each way (lease %d ms) the node was judged lost: %s%n",
                beyond.toMillis(), timings.leaseDuration().toMillis(), lost.path("reason").asString());
    }

    // --- helpers ---

    /** The node's moves for silence (to SUSPECT or FAILED) since {@code since}. */
    private static List<JsonNode> judgements(UUID node, Instant since) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode events = orchestrator.poll("/api/v1/nodes/" + node + "/events?size=500");
        for (JsonNode e : events.path("items")) {
            if (Instant.parse(e.path("at").asString()).isAfter(since)
                    && List.of("SUSPECT", "FAILED").contains(e.path("to").asString())) {
                out.add(e);
            }
        }
        return out;
    }

    private static Process agent(String name, URI url, Path caFile, Path log) throws IOException {
        String cp = System.getProperty("java.class.path");
        String java = Processes.java();
        ProcessBuilder builder = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", cp,
                Main.class.getName(), "--url", url.toString(), "--join-token", RealOrchestrator.JOIN_TOKEN,
                "--node-name", name, "--advertise-host", "127.0.0.1", "--checkpoint-root", location.toString(),
                "--state-dir", dir.resolve("state-" + name).toString(), "--stop-grace", "5s",
                "--report-flush", "250ms", "--request-timeout", REQUEST_TIMEOUT.toSeconds() + "s",
                "--warm-restart", "false", "--hot-spare", "false", // the cold path (warm: WarmRestartTest)
                "--trainer-command", FaultyTrainerLauncher.trainerCommand(dir, java
                        + " -Xmx768m -XX:TieredStopAtLevel=1 -cp " + cp + " dev.steadyrun.trainer.Main",
                        "--set threads=1"))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        if (caFile != null) {
            // as the chart's agent DaemonSet passes the CA
            builder.environment().putAll(chartTlsEnvironment("agent.yaml", "/etc/steadyrun/ca/", caFile.getParent()));
        }
        return builder.start();
    }

    /**
     * The environment the chart adds with {@code tls.enabled} to a container of {@code template}: the
     * {@code name}/{@code value} pairs of its TLS block, with the chart's mount folder replaced by this test's.
     */
    static Map<String, String> chartTlsEnvironment(String template, String mount, Path here) throws IOException {
        String text = Files.readString(CHART.resolve(template));
        int from = text.indexOf("{{- if .Values.tls.enabled }}");
        assertThat(from).as("a TLS block in the chart's " + template).isNotNegative();
        String block = text.substring(from, text.indexOf("{{- end }}", from));
        Map<String, String> env = new LinkedHashMap<>();
        Matcher m = Pattern.compile("- name: (\\S+)\\s+value: (\\S+)").matcher(block);
        while (m.find()) {
            env.put(m.group(1), m.group(2).replace("\"", "").replace(mount, here + "/"));
        }
        assertThat(env).as("environment in the TLS block of " + template).isNotEmpty();
        return env;
    }

    /**
     * A self-signed certificate for 127.0.0.1 made by keytool, written as the chart's Secret holds it: tls.crt,
     * tls.key (PKCS#8 PEM), and ca.crt (the same certificate: it is its own CA). Returns ca.crt.
     */
    private static Path certificate(Path tls) throws Exception {
        Path keystore = dir.resolve("orchestrator.p12");
        keytool("-genkeypair", "-alias", "orchestrator", "-keyalg", "EC", "-groupname", "secp256r1",
                "-validity", "2", "-dname", "CN=steadyrun-orchestrator",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-rfc", "-alias", "orchestrator", "-keystore", keystore.toString(),
                "-storepass", PASSWORD, "-file", tls.resolve("tls.crt").toString());
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            keys.load(in, PASSWORD.toCharArray());
        }
        Key key = keys.getKey("orchestrator", PASSWORD.toCharArray());
        Files.writeString(tls.resolve("tls.key"), "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        return Files.copy(tls.resolve("tls.crt"), tls.resolve("ca.crt"));
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }

    private static JsonNode run() {
        return orchestrator.poll("/api/v1/runs/" + runId);
    }

    private static JsonNode nodeNamed(String name) {
        for (JsonNode n : orchestrator.poll("/api/v1/nodes?size=500").path("items")) {
            if (n.path("name").asString().equals(name)) {
                return n;
            }
        }
        return MissingNode.getInstance();
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

}
