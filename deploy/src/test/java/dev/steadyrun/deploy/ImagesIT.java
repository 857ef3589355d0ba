package dev.steadyrun.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The built images work: each is unpacked and its entrypoint run as a container would run it
 * ({@link ContainerImage}), on a read-only root filesystem with a writable /tmp as the chart runs them. The
 * orchestrator image, configured as the Helm chart configures it, starts against the local PostgreSQL and reports
 * ready on its API port; the agent image registers with it, is given a one-rank run and its trainer (the image's
 * own trainer command, a child of the agent) trains, reports steps and checkpoints to the shared volume.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImagesIT {

    private static final String JOIN_TOKEN = "image-join-token-0123456789";
    private static final String ADMIN_TOKEN = "image-admin-token-0123456789";
    /** A cold Spring Boot start, and the tiny model's first step, take tens of seconds on a busy 2-core machine. */
    private static final Duration SLOW = Duration.ofMinutes(6);
    private static final String CHECKPOINTS = "/var/lib/steadyrun/checkpoints";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private static final Path WORK = Path.of("target/image-it").toAbsolutePath();
    private static ContainerImage orchestratorImage;
    private static ContainerImage agentImage;
    private static Process orchestrator;
    private static Process agent;
    private static int apiPort;
    private static int managementPort;

    @BeforeAll
    static void unpack() throws Exception {
        assertThat(ProcessHandle.current().info().user()).as("unshare and chroot need root").hasValue("root");
        run("rm", "-rf", WORK.toString());
        orchestratorImage = ContainerImage.unpack(Path.of(System.getProperty("steadyrun.image.orchestrator")),
                WORK.resolve("orchestrator"));
        agentImage = ContainerImage.unpack(Path.of(System.getProperty("steadyrun.image.agent")),
                WORK.resolve("agent"));
    }

    @AfterAll
    static void stop() {
        for (Process p : new Process[] {agent, orchestrator}) {
            if (p != null) {
                ContainerImage.kill(p);
            }
        }
    }

    @Test
    @Order(1)
    void theImagesRunAsAnUnprivilegedUserWithContainerAwareJvmFlags() {
        for (ContainerImage image : List.of(orchestratorImage, agentImage)) {
            assertThat(image.user).isEqualTo("10001:10001");
            assertThat(image.entrypoint.get(0)).isEqualTo("java");
            assertThat(image.entrypoint).contains("-XX:+ExitOnOutOfMemoryError", "-Djava.io.tmpdir=/tmp");
            assertThat(image.rootfs.resolve("usr/bin/java")).exists();
        }
        assertThat(orchestratorImage.entrypoint).contains("-XX:MaxRAMPercentage=75");
        assertThat(orchestratorImage.exposedPorts).contains(8080, 9090);
        // the trainer ships in the agent image and the agent starts it with the image's command
        assertThat(agentImage.env.get("STEADYRUN_TRAINER_COMMAND"))
                .contains("-jar /opt/steadyrun/trainer/trainer-engine.jar");
        assertThat(agentImage.rootfs.resolve("opt/steadyrun/trainer/trainer-engine.jar")).exists();
    }

    @Test
    @Order(2)
    void theOrchestratorImageStartsOnPostgresqlAndReportsReadyOnItsApiPort() throws Exception {
        String database = Optional.ofNullable(System.getenv("STEADYRUN_TEST_DB")).orElse("steadyrun_test")
                + "_images";
        freshDatabase(database);
        apiPort = freePort();
        managementPort = freePort();
        // the settings the Helm chart gives it (helm/steadyrun/templates/orchestrator.yaml)
        orchestrator = orchestratorImage.start(null, Map.ofEntries(
                Map.entry("HOSTNAME", "orchestrator-0"),
                Map.entry("SERVER_PORT", Integer.toString(apiPort)),
                Map.entry("MANAGEMENT_SERVER_PORT", Integer.toString(managementPort)),
                Map.entry("MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED", "true"),
                Map.entry("MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADDADDITIONALPATHS", "true"),
                Map.entry("SPRING_DATASOURCE_URL", "jdbc:postgresql://127.0.0.1:5432/" + database),
                Map.entry("SPRING_DATASOURCE_USERNAME", "postgres"),
                Map.entry("STEADYRUN_DATABASE_EMBEDDEDFALLBACK", "false"),
                Map.entry("STEADYRUN_JOIN_TOKEN", JOIN_TOKEN),
                Map.entry("STEADYRUN_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN),
                Map.entry("STEADYRUN_RUNS_CHECKPOINTROOT", CHECKPOINTS)),
                Map.of(), WORK.resolve("orchestrator.log"));

        await("the orchestrator's /readyz on the API port", () -> status(apiPort, "/readyz"), s -> s == 200);
        assertThat(status(apiPort, "/livez")).isEqualTo(200);
        assertThat(status(managementPort, "/actuator/health/readiness")).isEqualTo(200);
        assertThat(status(managementPort, "/actuator/prometheus")).isEqualTo(200);
        assertThat(status(apiPort, "/actuator/prometheus")).as("metrics only on the management port")
                .isNotEqualTo(200);
        long jvm = descendant(orchestrator, "/opt/steadyrun/orchestrator.jar");
        assertThat(ContainerImage.uids(jvm)).as("uid of the orchestrator's JVM").containsOnly(10001L);
    }

    @Test
    @Order(3)
    void theAgentImageRegistersAndItsTrainerTrains() throws Exception {
        // the shared checkpoint volume (the chart's ReadWriteMany claim), writable for the image's group (fsGroup)
        Path checkpoints = Files.createDirectories(WORK.resolve("checkpoint-volume"));
        run("chown", "10001:10001", checkpoints.toString());
        // the node credential's host folder (the chart's state hostPath)
        Path state = Files.createDirectories(WORK.resolve("agent-state"));
        run("chown", "10001:10001", state.toString());
        agent = agentImage.start(null, Map.of(
                "HOSTNAME", "agent-0",
                "STEADYRUN_URL", "http://127.0.0.1:" + apiPort,
                "STEADYRUN_JOIN_TOKEN", JOIN_TOKEN,
                "STEADYRUN_NODE_NAME", "image-node-0",
                "STEADYRUN_ADVERTISE_HOST", "127.0.0.1",
                // the test machine's load: one OpenMP thread (see trainer-engine's surefire configuration)
                "OMP_NUM_THREADS", "1",
                "STEADYRUN_STATE_DIR", "/var/lib/steadyrun-agent"),
                Map.of(checkpoints, CHECKPOINTS, state, "/var/lib/steadyrun-agent"), WORK.resolve("agent.log"));

        JsonNode node = await("the agent's registration and first heartbeat", () -> nodeNamed("image-node-0"),
                n -> n.isPresent() && n.get().path("state").asString().equals("HEALTHY")).orElseThrow();
        assertThat(node.path("hostname").asString()).isEqualTo("127.0.0.1");

        JsonNode run = api("POST", "/api/v1/runs", """
                {"name":"image-e2e","model":{"size":"tiny"},"data":{"path":"europarl"},"worldSize":1,
                 "checkpointInterval":2}""");
        String runId = run.path("id").asString();

        await("two steps of the image's trainer", () -> {
            assertThat(api("GET", "/api/v1/runs/" + runId, null).path("state").asString()).as("run state; agent: %s",
                    log("agent.log")).isNotEqualTo("FAILED");
            return api("GET", "/api/v1/runs/" + runId + "/metrics", null).path("points").size();
        }, n -> n >= 2);
        long trainer = descendant(agent, "/opt/steadyrun/trainer/trainer-engine.jar");
        assertThat(ContainerImage.uids(trainer)).as("uid of the trainer's JVM").containsOnly(10001L);
        await("a checkpoint on the shared volume", () -> {
            // written by the trainer at <checkpoint root>/<run>/step-N, the orchestrator's default location
            try (var files = Files.walk(checkpoints)) {
                return files.anyMatch(f -> f.getFileName().toString().startsWith("step-"));
            }
        }, ok -> ok);
    }

    // ---- helpers

    private static Optional<JsonNode> nodeNamed(String name) throws Exception {
        for (JsonNode n : api("GET", "/api/v1/nodes", null).path("items")) {
            if (name.equals(n.path("name").asString())) {
                return Optional.of(n);
            }
        }
        return Optional.empty();
    }

    private static JsonNode api(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + ADMIN_TOKEN)
                .header("Content-Type", "application/json");
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode() / 100).as("%s %s: %s", method, path, r.body()).isEqualTo(2);
        return JSON.readTree(r.body());
    }

    private static int status(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /** The JVM under {@code container} that runs {@code jar} (not the shells that started it). */
    private static long descendant(Process container, String jar) {
        List<Long> found = new ArrayList<>();
        container.descendants().forEach(p -> {
            String cmdline = ContainerImage.cmdline(p.pid());
            if (cmdline.startsWith("java ") && cmdline.contains("-jar " + jar)) {
                found.add(p.pid());
            }
        });
        assertThat(found).as("processes running " + jar).hasSize(1);
        return found.get(0);
    }

    private static <T> T await(String what, Callable<T> probe, Predicate<T> done) throws Exception {
        Instant deadline = Instant.now().plus(SLOW);
        T last = null;
        while (Instant.now().isBefore(deadline)) {
            assertThat(orchestrator.isAlive()).as("orchestrator alive; log: %s", log("orchestrator.log")).isTrue();
            if (agent != null) {
                assertThat(agent.isAlive()).as("agent alive; log: %s", log("agent.log")).isTrue();
            }
            last = probe.call();
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(500); // polling an external process; nothing to be notified by
        }
        throw new AssertionError("timed out waiting for " + what + " (last: " + last + ")\norchestrator: "
                + log("orchestrator.log") + "\nagent: " + log("agent.log"));
    }

    private static String log(String name) {
        try {
            String text = Files.readString(WORK.resolve(name));
            return text.length() > 6000 ? text.substring(text.length() - 6000) : text;
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private static void freshDatabase(String database) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres", "postgres", "");
             Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            st.execute("CREATE DATABASE " + database);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).inheritIO().start();
        assertThat(p.waitFor()).as(String.join(" ", command)).isZero();
    }
}
