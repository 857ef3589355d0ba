package dev.steadyrun.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.json.JsonMapper;

/**
 * A node as the orchestrator sees one, speaking the agent protocol over HTTP: registered with the join token,
 * heartbeating every 300 ms with a healthy GPU, and saying its trainer runs whatever it was assigned (no trainer
 * process: the tests report steps themselves).
 */
final class FakeAgent implements AutoCloseable {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final URI base;
    private final RegisterResponse registration;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
    private final AtomicLong sequence = new AtomicLong();
    private volatile Assignment assignment;

    FakeAgent(URI base, String name, Map<String, String> labels) throws IOException, InterruptedException {
        this.base = base;
        this.registration = JSON.readValue(post("/api/v1/agents/register", OrchestratorProcess.JOIN_TOKEN,
                new RegisterRequest(name, name + ".local",
                        List.of(new GpuInfo(0, "GPU-" + name, "NVIDIA H100", 81559)), labels, "cli-test")),
                RegisterResponse.class);
        beat();
        beats.scheduleWithFixedDelay(() -> {
            try {
                beat();
            } catch (Exception e) {
                // the next beat tries again; a test that needs the node sees it go missing
            }
        }, 300, 300, TimeUnit.MILLISECONDS);
    }

    UUID id() {
        return registration.nodeId();
    }

    /** The credential the node registered with. */
    String credential() {
        return registration.nodeCredential();
    }

    /** The HTTP status of an idle heartbeat presented with {@code credential}. */
    int heartbeat(String credential) throws IOException, InterruptedException {
        HeartbeatRequest idle = new HeartbeatRequest(sequence.incrementAndGet(),
                List.of(new GpuHealth(0, 55, 1000, 81559, 30, 0, 0, 0, List.of(), 0)), TrainerStatus.idle());
        return http.send(HttpRequest.newBuilder(base.resolve("/api/v1/agents/" + id() + "/heartbeat"))
                        .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                        .header("Authorization", "Bearer " + credential)
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(idle))).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private void beat() throws IOException, InterruptedException {
        Assignment a = assignment;
        TrainerStatus trainer = a == null ? TrainerStatus.idle()
                : new TrainerStatus(TrainerState.RUNNING, a.runId(), a.rank(), a.generation(), null, -1, List.of(),
                        null);
        HeartbeatResponse response = JSON.readValue(post("/api/v1/agents/" + id() + "/heartbeat",
                registration.nodeCredential(), new HeartbeatRequest(sequence.incrementAndGet(),
                        List.of(new GpuHealth(0, 55, 1000, 81559, 30, 0, 0, 0, List.of(), 0)), trainer)),
                HeartbeatResponse.class);
        assignment = response.desired() == DesiredState.RUN ? response.assignment() : null;
    }

    /** Waits until this node holds a rank of the run at {@code generation} or a later one. */
    Assignment awaitAssignment(UUID runId, long generation, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Assignment a = assignment;
            if (a != null && a.runId().equals(runId) && a.generation() >= generation) {
                return a;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("node " + id() + " got no rank of run " + runId + " in " + timeout);
    }

    /** Reports {@code count} training steps from {@code first} for the assigned rank. */
    void report(Assignment a, long first, int count) throws IOException, InterruptedException {
        List<StepMetrics> steps = new ArrayList<>();
        for (long s = first; s < first + count; s++) {
            steps.add(new StepMetrics(s, (s + 1) * 1024, 10.0 / (s + 1), 0.5, 4.0, false, 1e-3, 500, 200, 1 << 30,
                    List.of()));
        }
        post("/api/v1/agents/" + id() + "/reports", registration.nodeCredential(),
                new TrainerReport(a.runId(), a.rank(), a.generation(), steps, List.of()));
    }

    /** Posts trainer log lines of the assigned rank, numbered from {@code firstSeq}, as its agent would. */
    void log(Assignment a, long firstSeq, String... texts) throws IOException, InterruptedException {
        List<TrainerLogBatch.Line> lines = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            lines.add(new TrainerLogBatch.Line(firstSeq + i, Instant.now(), TrainerLogBatch.Stream.STDERR, texts[i]));
        }
        post("/api/v1/agents/" + id() + "/logs", registration.nodeCredential(),
                new TrainerLogBatch(a.runId(), a.rank(), a.generation(), lines, 0L));
    }

    private String post(String path, String token, Object body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("POST " + path + " → " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    @Override
    public void close() {
        beats.shutdownNow();
    }
}
