package dev.steadyrun.cli;

import java.io.PrintWriter;
import java.util.UUID;

import dev.steadyrun.protocol.TrainerLogBatch;
import tools.jackson.databind.JsonNode;

/**
 * {@code run logs}: prints a rank's recent trainer log, and with {@code -f} follows it (server-sent events) until
 * the run ends. Unpinned to a generation, a follow moves on to the run's next generation after a restart. Lines are
 * printed with control characters replaced, whatever the server sent: a log line must not drive the terminal.
 */
final class RunLogs {

    private final Api api;
    private final String path;
    private final PrintWriter out;
    private final PrintWriter err;
    private final Integer rank;
    private final Long generation;

    RunLogs(Api api, UUID runId, Integer rank, Long generation, PrintWriter out, PrintWriter err) {
        this.api = api;
        this.path = "/api/v1/runs/" + runId + "/logs";
        this.rank = rank;
        this.generation = generation;
        this.out = out;
        this.err = err;
    }

    void print() {
        JsonNode page = api.get(path, Api.query("rank", rank, "generation", generation));
        note(page.path("missedLines").asLong(), "earlier lines left the orchestrator's window");
        note(page.path("droppedLines").asLong(), "lines were dropped by the agent (its buffer was full)");
        for (JsonNode line : page.path("lines")) {
            line(line);
        }
        out.flush();
    }

    void follow() {
        Long after = null;
        Long pinned = generation;
        while (true) {
            long[] cursor = {after == null ? -1 : after};
            String[] end = {null};
            api.stream(path, Api.query("rank", rank, "generation", pinned, "follow", true, "after", after), event -> {
                JsonNode data = Api.JSON.readTree(event.data());
                switch (event.name()) {
                    case "line" -> {
                        line(data);
                        cursor[0] = data.path("seq").asLong();
                    }
                    case "missed" -> note(data.path("lines").asLong(), "lines left the window before they were read");
                    case "end" -> end[0] = data.path("reason").asString("");
                    default -> { }
                }
                out.flush();
                return end[0] == null;
            });
            String reason = end[0] == null ? "" : end[0];
            if (reason.startsWith("timeout")) { // the stream's time was up: on from the last line
                after = cursor[0] < 0 ? null : cursor[0];
            } else if (reason.startsWith("superseded") && generation == null) {
                err.println("-- the run started a new generation; following it");
                err.flush();
                after = null;
            } else {
                err.println("-- " + (reason.isEmpty() ? "the stream ended" : reason));
                err.flush();
                return;
            }
        }
    }

    private void line(JsonNode line) {
        out.println(TrainerLogBatch.clean(line.path("text").asString("")));
    }

    private void note(long count, String what) {
        if (count > 0) {
            err.println("-- " + count + " " + what);
            err.flush();
        }
    }
}
