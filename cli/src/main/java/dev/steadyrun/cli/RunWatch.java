package dev.steadyrun.cli;

import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import tools.jackson.databind.JsonNode;

/**
 * {@code run watch}: polls the run, its metrics from the step after the last one printed, and its incidents;
 * prints a line per new step (one per bucket when the server downsamples a long gap), per new incident or
 * incident state, and per run state change; returns when the run reaches a terminal state.
 */
final class RunWatch {

    /** The run states after which nothing more happens (the orchestrator's RunState.TERMINAL). */
    static final Set<String> TERMINAL = Set.of("CANCELLED", "SUCCEEDED", "FAILED");

    private final Api api;
    private final String path;
    private final PrintWriter out;
    private final long intervalMillis;
    private final Map<Long, String> incidents = new HashMap<>();
    private long nextStep;
    private String state;

    RunWatch(Api api, UUID runId, PrintWriter out, long intervalMillis) {
        this.api = api;
        this.path = "/api/v1/runs/" + runId;
        this.out = out;
        this.intervalMillis = Math.max(100, intervalMillis);
    }

    void follow() throws InterruptedException {
        JsonNode run = api.get(path);
        state = run.path("state").asString();
        nextStep = run.path("lastStep").isNumber() ? run.get("lastStep").asLong() + 1 : 0;
        print("run %s %s: %s, generation %d, step %s", run.path("id").asString(), Output.text(run.get("name")), state,
                run.path("generation").asLong(), Output.text(run.get("lastStep")));
        for (JsonNode i : api.get(path + "/incidents")) { // already known: only their changes are news
            incidents.put(i.path("id").asLong(), i.path("state").asString());
        }
        while (!TERMINAL.contains(state)) {
            Thread.sleep(intervalMillis);
            poll();
        }
        print("run ended: %s", state);
    }

    private void poll() {
        JsonNode run = api.get(path);
        JsonNode metrics = api.get(path + "/metrics", Api.query("fromStep", nextStep));
        for (JsonNode p : metrics.path("points")) {
            print("step %6d  loss %.4f  scale %s  lr %.3g  grad %.3g  %.0f tok/s  %.0f ms%s", p.path("step").asLong(),
                    p.path("loss").asDouble(), Output.number(p.get("lossScale"), 4), p.path("lr").asDouble(),
                    p.path("gradNorm").asDouble(), p.path("tokensPerSec").asDouble(), p.path("stepTimeMs").asDouble(),
                    p.path("overflowSteps").asLong() > 0 ? "  overflow" : "");
            nextStep = Math.max(nextStep, p.path("step").asLong() + 1);
        }
        JsonNode found = api.get(path + "/incidents");
        for (int i = found.size() - 1; i >= 0; i--) { // oldest first
            JsonNode incident = found.get(i);
            long id = incident.path("id").asLong();
            String now = incident.path("state").asString();
            String before = incidents.put(id, now);
            if (before == null) {
                print("incident #%d %s (%s) %s: %s", id, incident.path("kind").asString(),
                        incident.path("cause").asString(), now, incident.path("summary").asString());
            } else if (!before.equals(now)) {
                print("incident #%d %s -> %s", id, before, now);
            }
        }
        String newState = run.path("state").asString();
        if (!newState.equals(state)) {
            print("state %s -> %s%s", state, newState, run.hasNonNull("stateReason")
                    ? ": " + run.get("stateReason").asString() : "");
            state = newState;
        }
    }

    private void print(String format, Object... args) {
        out.println(String.format(Locale.ROOT, format, args));
        out.flush();
    }
}
