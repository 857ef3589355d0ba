package dev.steadyrun.agent.testing;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import javax.net.ssl.SSLContext;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.MissingNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The REAL orchestrator for end-to-end tests: its Spring Boot jar (the test-scope dependency) run as a child
 * process on a free port against its own, freshly created PostgreSQL database. It can be crashed (SIGKILL) and
 * started again on the same port and database, as an orchestrator restart would.
 */
public final class RealOrchestrator implements AutoCloseable {

    public static final String JOIN_TOKEN = "e2e-join-token-0123456789";
    public static final String ADMIN_TOKEN = "e2e-admin-token-0123456789";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** The machine's shared PostgreSQL. */
    public static final String SHARED_SERVER = "127.0.0.1:5432";

    private final String server;
    private final String pg;
    private final String database;
    private final Path log;
    private final List<String> settings;
    private final Map<String, String> environment;
    private final SSLContext trust;
    private final int port;
    private final int managementPort;
    private final HttpClient http;
    private Process process;

    /**
     * @param database the database's name, suffixed with {@code STEADYRUN_TEST_DB} when that is set (two people
     *                 testing at once on one PostgreSQL must not drop each other's database)
     * @param settings extra {@code --key=value} Spring settings, e.g. the heartbeat interval
     */
    public RealOrchestrator(String database, Path log, List<String> settings) throws IOException, SQLException {
        this(SHARED_SERVER, database, log, settings, Map.of(), null);
    }

    /**
     * @param server      the PostgreSQL server's host:port (trust authentication for user postgres)
     * @param environment extra environment variables of the process, e.g. the chart's {@code SERVER_SSL_*} settings
     * @param trust       for an orchestrator serving HTTPS (set up in {@code environment}): the TLS context the
     *                    test's own calls trust it with; null for plain HTTP
     */
    public RealOrchestrator(String server, String database, Path log, List<String> settings,
                            Map<String, String> environment, SSLContext trust) throws IOException, SQLException {
        this(server, database + Optional.ofNullable(System.getenv("STEADYRUN_TEST_DB")).map(d -> "_" + d).orElse(""),
                log, settings, environment, trust, true);
    }

    private RealOrchestrator(String server, String database, Path log, List<String> settings,
                             Map<String, String> environment, SSLContext trust, boolean fresh)
            throws IOException, SQLException {
        this.server = server;
        this.pg = "jdbc:postgresql://" + server + "/";
        this.database = database;
        this.log = log;
        this.settings = settings;
        this.environment = environment;
        this.trust = trust;
        this.http = trust == null ? HttpClient.newHttpClient() : HttpClient.newBuilder().sslContext(trust).build();
        try (ServerSocket s = new ServerSocket(0); ServerSocket m = new ServerSocket(0)) {
            this.port = s.getLocalPort();
            this.managementPort = m.getLocalPort();
        }
        if (fresh) {
            try (Connection c = DriverManager.getConnection(pg + "postgres", "postgres", "");
                 Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
                st.execute("CREATE DATABASE " + database);
            }
        }
    }

    /**
     * The orchestrator of the recovery stories, not started: chaos API on, scheduling passes every 500 ms, and a
     * rendezvous port of its own (other tests on this machine may form rings on the default one).
     */
    public static RealOrchestrator forRecovery(String database, Path log, long heartbeatMillis)
            throws IOException, SQLException {
        int rendezvousPort;
        try (ServerSocket s = new ServerSocket(0)) {
            rendezvousPort = s.getLocalPort();
        }
        return new RealOrchestrator(database, log, List.of(
                "--steadyrun.fleet.heartbeat-interval=" + heartbeatMillis + "ms",
                "--steadyrun.scheduling.pass-interval=500ms",
                "--steadyrun.chaos.enabled=true",
                "--steadyrun.scheduling.rendezvous-port=" + rendezvousPort));
    }

    /** A second replica on the same database and settings (the standby of an active/standby pair), not started. */
    public RealOrchestrator replica(Path log) throws IOException, SQLException {
        return new RealOrchestrator(server, database, log, settings, environment, trust, false);
    }

    public URI url() {
        return URI.create((trust == null ? "http" : "https") + "://127.0.0.1:" + port);
    }

    /** The management port (metrics, the full health report): plain HTTP, as the chart configures it. */
    public URI managementUrl() {
        return URI.create("http://127.0.0.1:" + managementPort);
    }

    /** The URL at another of this machine's addresses (it listens on all of them), e.g. a bridge's. */
    public URI url(String host) {
        return URI.create("http://" + host + ":" + port);
    }

    /** Starts the process and waits until it is live (a standby is live, but not ready). */
    public void start(Duration timeout) throws IOException, InterruptedException {
        List<String> argv = new java.util.ArrayList<>(List.of(
                Processes.java(), "-Xmx512m",
                "-XX:TieredStopAtLevel=1", "-jar", bootJar().toString(),
                "--server.port=" + port, "--management.server.port=" + managementPort,
                "--spring.datasource.url=" + pg + database,
                "--steadyrun.security.join-token=" + JOIN_TOKEN,
                "--steadyrun.security.bootstrap-admin-token=" + ADMIN_TOKEN));
        argv.addAll(settings);
        ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(environment);
        process = builder.start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("orchestrator exited with " + process.exitValue() + "; log: " + log);
            }
            try {
                if (probe("liveness") == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // still booting
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("orchestrator not up after " + timeout.toSeconds() + " s; log: " + log);
    }

    /**
     * 200 when the probe ({@code liveness}, {@code readiness}) says UP, 503 when not; asked on the API port
     * ({@code /livez}, {@code /readyz}), as Kubernetes does.
     */
    public int probe(String which) throws IOException, InterruptedException {
        String path = switch (which) {
            case "liveness" -> "/livez";
            case "readiness" -> "/readyz";
            default -> throw new IllegalArgumentException("no probe " + which);
        };
        return http.send(HttpRequest.newBuilder(url().resolve(path)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** The status of an API call, for calls expected to be refused. */
    public int status(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(url().resolve(path)).header("Authorization", "Bearer " + ADMIN_TOKEN)
                .GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** A connection to the orchestrator's own database, for facts the API does not show (per-generation rows). */
    public Connection database() throws SQLException {
        return DriverManager.getConnection(pg + database, "postgres", "");
    }

    /** A crash: SIGKILL, no graceful shutdown. */
    public void crash() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    public JsonNode get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(url().resolve(path)).GET());
    }

    /** One poll's answer: a moment without one (restarting, failing over, refused) reads as missing and the caller polls again. */
    public JsonNode poll(String path) {
        try {
            return get(path);
        } catch (IOException | RuntimeException e) {
            return MissingNode.getInstance();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return MissingNode.getInstance();
        }
    }

    /** The node's state by its name as one poll sees it; UNKNOWN when the poll has no answer or no such node. */
    public String nodeState(String name) {
        for (JsonNode n : poll("/api/v1/nodes?size=500").path("items")) {
            if (n.path("name").asString().equals(name)) {
                return n.path("state").asString();
            }
        }
        return "UNKNOWN";
    }

    public UUID nodeId(String name) throws IOException, InterruptedException {
        for (JsonNode n : get("/api/v1/nodes?size=500").path("items")) {
            if (n.path("name").asString().equals(name)) {
                return UUID.fromString(n.path("id").asString());
            }
        }
        throw new AssertionError("no node " + name);
    }

    /**
     * A real agent of this orchestrator as a child JVM (so that it can be SIGKILLed), for the recovery stories: one
     * fake GPU with its fault file, its checkpoints, state and trainer logs under {@code dir}, its log in
     * {@code dir/agent-<name>.log}.
     *
     * @param more the agent's other flags: which trainer or programs it runs
     */
    public ProcessBuilder agent(String name, Path dir, String rack, Duration stopGrace, List<String> more) {
        List<String> argv = new java.util.ArrayList<>(List.of(Processes.java(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), dev.steadyrun.agent.Main.class.getName(),
                "--url", url().toString(), "--join-token", JOIN_TOKEN,
                "--node-name", name, "--advertise-host", "127.0.0.1", "--labels", "rack=" + rack,
                "--checkpoint-root", dir.resolve("agent-" + name).toString(),
                "--state-dir", dir.resolve("state").toString(),
                "--stop-grace", stopGrace.toSeconds() + "s", "--report-flush", "250ms",
                "--trainer-log-dir", dir.resolve("trainer-logs").toString(),
                "--fake-gpus", "1", "--fault-file", dir.resolve("fault-" + name).toString()));
        argv.addAll(more);
        return new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("agent-" + name + ".log").toFile()));
    }

    /** The newest step the run's generation has reported, read from the database; -1 when none (or no answer). */
    public long maxStep(UUID runId, long generation) {
        try {
            return query("select coalesce(max(step), -1) from run_metric where run_id = ? and generation = ?", rs -> {
                rs.next();
                return rs.getLong(1);
            }, runId, generation);
        } catch (SQLException e) {
            return -1;
        }
    }

    /** The first step the run's generation has reported, read from the database; -1 when none. */
    public long minStep(UUID runId, long generation) throws SQLException {
        return query("select coalesce(min(step), -1) from run_metric where run_id = ? and generation = ?", rs -> {
            rs.next();
            return rs.getLong(1);
        }, runId, generation);
    }

    /** The losses a run's generation reported, every rank's rows, in step order. */
    public List<Double> losses(UUID runId, long generation) throws SQLException {
        return query("select loss from run_metric where run_id = ? and generation = ? order by step", rs -> {
            List<Double> losses = new java.util.ArrayList<>();
            while (rs.next()) {
                losses.add(rs.getDouble(1));
            }
            return losses;
        }, runId, generation);
    }

    /** A column ({@code lr}, {@code loss_scale}, …) of one rank's metrics row of a generation's step. */
    public double metric(UUID runId, long generation, long step, int rank, String column) throws SQLException {
        return query("select " + column + " from run_metric where run_id = ? and generation = ? and step = ?"
                + " and rank = ?", rs -> {
            if (!rs.next()) {
                throw new AssertionError("no metrics of rank " + rank + " at step " + step + " in generation "
                        + generation);
            }
            return rs.getDouble(1);
        }, runId, generation, step, rank);
    }

    /** What a query's rows say. */
    @FunctionalInterface
    private interface Rows<T> {
        T read(ResultSet rs) throws SQLException;
    }

    private <T> T query(String sql, Rows<T> rows, Object... parameters) throws SQLException {
        try (Connection c = database(); PreparedStatement st = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                st.setObject(i + 1, parameters[i]);
            }
            try (ResultSet rs = st.executeQuery()) {
                return rows.read(rs);
            }
        }
    }

    public JsonNode post(String path, String json) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(url().resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json == null ? "" : json)));
    }

    private JsonNode send(HttpRequest.Builder request) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request.header("Authorization", "Bearer " + ADMIN_TOKEN).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException(r.request().method() + " " + r.uri() + " → " + r.statusCode() + ": " + r.body());
        }
        return r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            crash();
        }
    }

    /** The orchestrator's Boot jar ({@code classifier exec}), a test-scope dependency of this module. */
    static Path bootJar() {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.matches(".*orchestrator-[^/]*-exec\\.jar")) {
                return Path.of(entry);
            }
        }
        throw new IllegalStateException("no orchestrator-*-exec.jar on the test classpath (build the orchestrator "
                + "module first: mvn -pl orchestrator install -DskipTests)");
    }
}
