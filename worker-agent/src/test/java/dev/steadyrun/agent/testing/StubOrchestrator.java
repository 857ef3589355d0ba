package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * TEST TOOL for the agent's unit tests — a small HTTP server speaking the agent API from memory, so lease timing,
 * backoff, re-registration and fencing can be checked precisely. The end-to-end tests use the real orchestrator.
 */
public final class StubOrchestrator implements AutoCloseable {

    public record Beat(long atNanos, UUID nodeId, HeartbeatRequest request) {
    }

    public static final String JOIN_TOKEN = "join-secret";

    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    public final List<RegisterRequest> registrations = new CopyOnWriteArrayList<>();
    public final List<Beat> beats = new CopyOnWriteArrayList<>();
    public final List<TrainerReport> reports = new CopyOnWriteArrayList<>();
    public final List<TrainerLogBatch> logs = new CopyOnWriteArrayList<>();
    public final AtomicInteger refusedJoins = new AtomicInteger();
    /** Registrations refused because they did not present the node's current credential (403). */
    public final AtomicInteger refusedTakeovers = new AtomicInteger();
    public volatile LeaseTimings timings = LeaseTimings.forHeartbeat(Duration.ofMillis(100));
    public volatile DesiredState desired = DesiredState.IDLE;
    public volatile Assignment assignment;
    /** Chaos faults for the next heartbeat answer, each sent once. */
    public final Queue<ChaosFault> chaos = new ConcurrentLinkedQueue<>();
    /** When set, the next registration is answered this late (after the agent gave up on it), then it is cleared. */
    public volatile Duration registerDelay;
    /** Reports and log batches of generations below this are refused with 409. */
    public volatile long fencedBelow;
    private volatile UUID nodeId;
    private volatile String credential;
    private final int port;
    private HttpServer server;

    public StubOrchestrator() throws IOException {
        this(0);
    }

    private StubOrchestrator(int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 50);
        server.createContext("/api/v1/agents/", this::handle);
        server.start();
        this.port = server.getAddress().getPort();
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** An admin's re-key: a new credential, which the agent's old one no longer matches. */
    public String rekey() {
        credential = "srn_" + UUID.randomUUID();
        return credential;
    }

    /** Drops every credential, as an orchestrator that lost its database would. */
    public void forgetCredentials() {
        credential = null;
    }

    public void goDown() {
        server.stop(0);
    }

    public void comeBack() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 50);
        server.createContext("/api/v1/agents/", this::handle);
        server.start();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            byte[] body = ex.getRequestBody().readAllBytes();
            if (path.equals("/api/v1/agents/register")) {
                if (!("Bearer " + JOIN_TOKEN).equals(auth)) {
                    refusedJoins.incrementAndGet();
                    problem(ex, 401, "Unauthorized", "join token refused");
                    return;
                }
                RegisterRequest request = JSON.readValue(body, RegisterRequest.class);
                registrations.add(request);
                // as the orchestrator: a known node re-joins only with its credential, and keeps it
                if (credential != null && !credential.equals(request.nodeCredential())) {
                    refusedTakeovers.incrementAndGet();
                    problem(ex, 403, "Forbidden", "node name is already registered");
                    return;
                }
                nodeId = nodeId == null ? UUID.randomUUID() : nodeId;
                Duration delay = registerDelay;
                if (delay != null) {
                    registerDelay = null;
                    try {
                        Thread.sleep(delay.toMillis());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (credential == null) { // a new node takes the proposed credential, as the orchestrator does
                    credential = request.nodeCredential() != null ? request.nodeCredential() : "srn_" + UUID.randomUUID();
                }
                send(ex, 200, JSON.writeValueAsBytes(new RegisterResponse(nodeId, credential, timings)));
                return;
            }
            if (credential == null || !("Bearer " + credential).equals(auth)) {
                problem(ex, 401, "Unauthorized", "unknown node credential");
                return;
            }
            if (path.endsWith("/heartbeat")) {
                beats.add(new Beat(System.nanoTime(), nodeId, JSON.readValue(body, HeartbeatRequest.class)));
                List<ChaosFault> faults = new ArrayList<>();
                for (ChaosFault f; (f = chaos.poll()) != null; ) {
                    faults.add(f);
                }
                HeartbeatResponse answer = new HeartbeatResponse(desired, assignment, timings);
                send(ex, 200, JSON.writeValueAsBytes(faults.isEmpty() ? answer : answer.withChaos(faults)));
            } else if (path.endsWith("/reports")) {
                TrainerReport report = JSON.readValue(body, TrainerReport.class);
                if (report.generation() < fencedBelow) {
                    problem(ex, 409, "Conflict", "generation " + report.generation() + " is fenced");
                    return;
                }
                reports.add(report);
                send(ex, 204, null);
            } else if (path.endsWith("/logs")) {
                TrainerLogBatch batch = JSON.readValue(body, TrainerLogBatch.class);
                if (batch.generation() < fencedBelow) {
                    problem(ex, 409, "Conflict", "generation " + batch.generation() + " is fenced");
                    return;
                }
                logs.add(batch);
                send(ex, 204, null);
            } else {
                problem(ex, 404, "Not Found", path);
            }
        }
    }

    private static void problem(HttpExchange ex, int status, String title, String detail) throws IOException {
        ex.getResponseHeaders().add("Content-Type", "application/problem+json");
        send(ex, status, ("{\"type\":\"about:blank\",\"title\":\"" + title + "\",\"status\":" + status
                + ",\"detail\":\"" + detail + "\"}").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        if (body == null) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.getResponseHeaders().putIfAbsent("Content-Type", List.of("application/json"));
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
