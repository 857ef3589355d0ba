package dev.steadyrun.orchestrator.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/** The live log end to end over real HTTP: agents post lines, operators read the window and follow it as SSE. */
class RunLogsTest extends RunsApiSupport {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private UUID runId;
    private final Map<Integer, Agent> ranks = new HashMap<>();

    private void twoRankRun() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        Reply submitted = call("POST", "/api/v1/runs", ADMIN_TOKEN, tinyRun(rack, 2, 0));
        runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(ADMIN_TOKEN, runId, RunState.STARTING);
        for (Agent a : agents) {
            HeartbeatResponse answer = heartbeat(a, TrainerStatus.idle());
            assertThat(answer.desired()).isEqualTo(DesiredState.RUN);
            ranks.put(answer.assignment().rank(), a);
        }
        assertThat(ranks).containsOnlyKeys(0, 1);
    }

    private static List<TrainerLogBatch.Line> lines(long from, long to) {
        List<TrainerLogBatch.Line> out = new ArrayList<>();
        for (long s = from; s < to; s++) {
            out.add(new TrainerLogBatch.Line(s, Instant.parse("2026-01-01T00:00:00Z").plusSeconds(s),
                    s % 2 == 0 ? TrainerLogBatch.Stream.STDERR : TrainerLogBatch.Stream.STDOUT, "line " + s));
        }
        return out;
    }

    private Reply post(Agent agent, int rank, long generation, List<TrainerLogBatch.Line> lines, long dropped) {
        return call("POST", "/api/v1/agents/" + agent.id() + "/logs", agent.credential(),
                new TrainerLogBatch(runId, rank, generation, lines, dropped));
    }

    @Test
    void linesOfARankAreKeptInOrderOnceAndReadByAViewer() {
        twoRankRun();
        String viewer = token("VIEWER");
        assertThat(post(ranks.get(1), 1, 1, lines(0, 3), 2).status()).isEqualTo(204);
        // the same batch again (its answer was lost) and one more line: nothing twice
        assertThat(post(ranks.get(1), 1, 1, lines(0, 4), 2).status()).isEqualTo(204);
        assertThat(post(ranks.get(0), 0, 1, lines(0, 1), 0).status()).isEqualTo(204);

        Reply page = call("GET", "/api/v1/runs/" + runId + "/logs?rank=1", viewer, null);
        assertThat(page.status()).as(page.raw().body()).isEqualTo(200);
        assertThat(page.body().get("generation").asLong()).as("the current generation by default").isEqualTo(1);
        assertThat(texts(page.body())).containsExactly("line 0", "line 1", "line 2", "line 3");
        assertThat(page.body().at("/lines/0/stream").asString()).isEqualTo("STDERR");
        assertThat(page.body().at("/lines/1/at").asString()).isEqualTo("2026-01-01T00:00:01Z");
        assertThat(page.body().get("droppedLines").asLong()).isEqualTo(2);
        assertThat(page.body().get("next").asLong()).isEqualTo(3);

        Reply later = call("GET", "/api/v1/runs/" + runId + "/logs?rank=1&after=1&limit=1", viewer, null);
        assertThat(texts(later.body())).containsExactly("line 2");
        Reply rankZero = call("GET", "/api/v1/runs/" + runId + "/logs", viewer, null);
        assertThat(texts(rankZero.body())).as("rank 0 by default, its own lines only").containsExactly("line 0");
    }

    @Test
    void onlyTheNodeHoldingTheRankOfTheCurrentGenerationMayPostLines() {
        twoRankRun();
        assertThat(post(ranks.get(0), 1, 1, lines(0, 1), 0).status()).as("another node's rank").isEqualTo(409);
        assertThat(post(ranks.get(1), 1, 2, lines(0, 1), 0).status()).as("a future generation").isEqualTo(409);
        Reply noRun = call("POST", "/api/v1/agents/" + ranks.get(1).id() + "/logs", ranks.get(1).credential(),
                new TrainerLogBatch(UUID.randomUUID(), 1, 1, lines(0, 1), 0L));
        assertThat(noRun.status()).isEqualTo(404);
        Reply unordered = post(ranks.get(1), 1, 1, List.of(lines(1, 2).get(0), lines(0, 1).get(0)), 0);
        assertThat(unordered.status()).isEqualTo(400);
        assertThat(unordered.body().get("field").asString()).isEqualTo("lines[1].seq");
        Reply tooLong = post(ranks.get(1), 1, 1, List.of(new TrainerLogBatch.Line(0, Instant.now(),
                TrainerLogBatch.Stream.STDOUT, "x".repeat(TrainerLogBatch.MAX_LINE_CHARS + 1))), 0);
        assertThat(tooLong.status()).isEqualTo(400);
        assertThat(tooLong.body().get("field").asString()).isEqualTo("lines[0].text");
        assertThat(texts(call("GET", "/api/v1/runs/" + runId + "/logs?rank=1", ADMIN_TOKEN, null).body()))
                .as("nothing refused was kept").isEmpty();
    }

    @Test
    void badParametersAreProblemsNamingTheParameter() {
        twoRankRun();
        String base = "/api/v1/runs/" + runId + "/logs";
        Map<String, String> cases = Map.of(
                "?rank=2", "rank",
                "?rank=-1", "rank",
                "?generation=2", "generation",
                "?generation=0", "generation",
                "?after=-5", "after",
                "?limit=0", "limit",
                "?limit=1001", "limit",
                "?follow=true&limit=5", "limit",
                "?follow=maybe", "follow");
        cases.forEach((query, field) -> {
            Reply r = call("GET", base + query, ADMIN_TOKEN, null);
            assertThat(r.status()).as(query + ": " + r.raw().body()).isEqualTo(400);
            assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                    t -> assertThat(t).startsWith("application/problem+json"));
            assertThat(r.body().get("field").asString()).as(query).isEqualTo(field);
        });
        assertThat(call("GET", "/api/v1/runs/" + UUID.randomUUID() + "/logs", ADMIN_TOKEN, null).status())
                .isEqualTo(404);
        assertThat(call("GET", base, null, null).status()).isEqualTo(401);
        assertThat(call("GET", base, ranks.get(0).credential(), null).status())
                .as("a node credential is no operator token").isEqualTo(401);
    }

    @Test
    void theWindowKeepsTheMostRecentLinesAndSaysHowManyAReaderMissed() {
        twoRankRun();
        for (long from = 0; from < 1500; from += TrainerLogBatch.MAX_LINES) {
            assertThat(post(ranks.get(0), 0, 1, lines(from, from + TrainerLogBatch.MAX_LINES), 0).status())
                    .isEqualTo(204);
        }
        Reply page = call("GET", "/api/v1/runs/" + runId + "/logs?rank=0", ADMIN_TOKEN, null);
        List<String> texts = texts(page.body());
        assertThat(texts).hasSize(1000).startsWith("line 500").endsWith("line 1499");
        assertThat(page.body().get("missedLines").asLong()).isEqualTo(500);
    }

    /** A follower gets the backlog after its cursor, then each new line as it is posted, then the end of the run. */
    @Test
    void followStreamsNewLinesAsServerSentEventsAndEndsWithTheRun() throws Exception {
        twoRankRun();
        String viewer = token("VIEWER");
        assertThat(post(ranks.get(1), 1, 1, lines(0, 3), 0).status()).isEqualTo(204);

        try (SseReader sse = SseReader.open(port, "/api/v1/runs/" + runId + "/logs?rank=1&follow=true&after=0",
                viewer)) {
            assertThat(sse.status).isEqualTo(200);
            assertThat(sse.contentType).startsWith("text/event-stream");
            assertThat(sse.next()).isEqualTo(new Event("line", "1", "line 1"));
            assertThat(sse.next()).isEqualTo(new Event("line", "2", "line 2"));

            assertThat(post(ranks.get(1), 1, 1, lines(3, 5), 0).status()).isEqualTo(204);
            assertThat(sse.next()).isEqualTo(new Event("line", "3", "line 3"));
            assertThat(sse.next()).isEqualTo(new Event("line", "4", "line 4"));
            assertThat(post(ranks.get(0), 0, 1, lines(0, 1), 0).status()).isEqualTo(204); // another rank's

            call("POST", "/api/v1/runs/" + runId + "/cancel", ADMIN_TOKEN, null);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!call("GET", "/api/v1/runs/" + runId, ADMIN_TOKEN, null).body().path("state").asString("")
                    .equals("CANCELLED")) { // the trainers say they stopped, until the run is CANCELLED
                assertThat(System.nanoTime()).as("the run reached CANCELLED").isLessThan(deadline);
                ranks.forEach((rank, a) -> heartbeat(a, trainer(TrainerState.EXITED, runId, rank, 1)));
                Thread.sleep(100);
            }
            Event end = sse.next();
            assertThat(end.name()).as("rank 0's line never reached rank 1's stream").isEqualTo("end");
            assertThat(end.data()).contains("CANCELLED");
            assertThat(sse.ended()).as("the server closed the stream").isTrue();
        }
    }

    @Test
    void aFollowWithoutATokenIsRefusedAsAProblem() {
        twoRankRun();
        Reply r = call("GET", "/api/v1/runs/" + runId + "/logs?follow=true", null, null);
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
    }

    private static List<String> texts(JsonNode page) {
        List<String> out = new ArrayList<>();
        page.path("lines").forEach(l -> out.add(l.get("text").asString()));
        return out;
    }

    /** One event: its name, id and, for a line, the line's text (else the raw data). */
    record Event(String name, String id, String data) {
    }

    /** A real streaming HTTP client reading text/event-stream, one event at a time. */
    static final class SseReader implements AutoCloseable {
        private static final Object END = new Object();
        final int status;
        final String contentType;
        private final BlockingQueue<Object> lines = new LinkedBlockingQueue<>();
        private final Stream<String> body;
        private final tools.jackson.databind.ObjectMapper json = tools.jackson.databind.json.JsonMapper.builder()
                .build();

        private SseReader(HttpResponse<Stream<String>> response) {
            status = response.statusCode();
            contentType = response.headers().firstValue("Content-Type").orElse("");
            body = response.body();
            Thread t = new Thread(() -> {
                try {
                    body.forEach(lines::add);
                } catch (RuntimeException e) {
                    // closed
                } finally {
                    lines.add(END);
                }
            }, "sse-reader");
            t.setDaemon(true);
            t.start();
        }

        static SseReader open(int port, String path, String token) throws Exception {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Authorization", "Bearer " + token)
                    .header("Accept", "text/event-stream, application/problem+json").build();
            return new SseReader(HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofLines()));
        }

        /** The next event (comments skipped). */
        Event next() throws InterruptedException {
            String name = "message";
            String id = null;
            StringBuilder data = new StringBuilder();
            long deadline = System.nanoTime() + WAIT.toNanos(); // keepalives come every second: a deadline of its own
            while (true) {
                Object o = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (o == null) {
                    throw new AssertionError("no event within " + WAIT);
                }
                if (o == END) {
                    throw new AssertionError("the stream ended without another event");
                }
                String line = (String) o;
                if (line.isEmpty()) {
                    if (data.length() == 0 && id == null) {
                        continue; // after a comment
                    }
                    String d = data.toString();
                    return new Event(name, id, name.equals("line") ? json.readTree(d).get("text").asString() : d);
                }
                if (line.startsWith(":")) {
                    continue;
                }
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1).stripLeading();
                switch (field) {
                    case "event" -> name = value;
                    case "id" -> id = value;
                    case "data" -> data.append(data.length() > 0 ? "\n" : "").append(value);
                    default -> { }
                }
            }
        }

        /** True once the server closed the stream (after its last event). */
        boolean ended() throws InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (true) {
                Object o = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (o == null) {
                    return false;
                }
                if (o == END) {
                    return true;
                }
            }
        }

        @Override
        public void close() {
            body.close();
        }
    }
}
