package dev.steadyrun.soak;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;

/**
 * TEST TOOL — the soak: a simulated fleet of ≥ 1,000 nodes and one OPT-175B-shaped run against a real orchestrator,
 * failures from {@link TraceModel}, {@link Invariants} checked throughout, and the {@link GoodputReport} at the end.
 * Started by {@code bench/soak.sh}, which starts the orchestrator; exits 1 naming every broken invariant, 2 when the
 * soak could not run. See docs/soak.md.
 */
public final class Soak {

    private static final Set<String> UNSETTLED = Set.of("OPEN", "RECOVERING", "NEEDS_HUMAN");

    /** A straggler factor no slowdown reaches: the baseline policy scores no stragglers. */
    static final double BASELINE_STRAGGLER_FACTOR = 1e6;

    private final Map<String, String> args;
    private final Api api;
    private final Invariants invariants = new Invariants(1.0);
    private final Fleet fleet;
    private final double compression;
    private final String out;
    /** {@code --policy baseline}: the run's recovery policy is the baseline's (docs/soak.md); default ours. */
    private final boolean baseline;

    private Soak(Map<String, String> args) {
        this.args = args;
        ExecutorService io = Executors.newFixedThreadPool(intArg("http-threads", 2), daemon("soak-http"));
        this.api = new Api(arg("url", "http://127.0.0.1:18090"), arg("admin-token", null), io);
        ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor(daemon("soak-loop"));
        double step = num("step-seconds", 1.0);
        this.compression = num("real-step-seconds", 15) / step;
        this.fleet = new Fleet(new Fleet.Settings(intArg("nodes", 1024), intArg("gpus-per-node", 8),
                intArg("rack-size", 32), step, num("restore-real-seconds", 120) / compression,
                num("report-seconds", 3), num("repair-seconds", 90), num("partition-seconds", 30),
                num("straggler-slowdown", 2.0), (long) num("seed", 1), arg("join-token", null),
                Boolean.parseBoolean(arg("trace-clock", "false"))), api, invariants, loop);
        this.out = arg("out", "bench/out/soak");
        String policy = arg("policy", "ours");
        if (!policy.equals("ours") && !policy.equals("baseline")) {
            throw new IllegalArgumentException("--policy must be ours or baseline, was " + policy);
        }
        this.baseline = policy.equals("baseline");
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value, got " + argv[i]);
            }
            a.put(argv[i].substring(2), argv[i + 1]);
        }
        int code;
        try {
            code = new Soak(a).run();
        } catch (RuntimeException e) {
            e.printStackTrace();
            code = 2;
        }
        System.exit(code);
    }

    private int run() throws Exception {
        int world = intArg("world", 992);
        int spares = intArg("spares", 16);
        double minutes = num("minutes", 10);
        long seed = (long) num("seed", 1);
        double meanGap = num("mean-gap-seconds", 20);
        double humanSeconds = num("human-seconds", 30);
        double hangFloorReal = num("hang-floor-real-seconds", 600);
        say("soak: %d nodes, a %d-rank run + %d spares, %.0f min, seed %d, compression %.1f× (load %s)",
                fleet.nodes.length, world, spares, minutes, seed, compression, load());

        try (WebhookReceiver hooks = new WebhookReceiver()) {
            api.postTree("/api/v1/webhooks", Map.of("name", "soak", "url", hooks.url(), "eventTypes",
                    List.of("incident.opened", "incident.resolved", "node.swapped", "human.needed",
                            "run.restart_budget_exhausted", "run.state_changed", "node.failed", "node.cordoned")));

            long regStart = System.nanoTime();
            fleet.start();
            fleet.registerAll(32).join();
            say("registered %d nodes in %.1f s", fleet.nodes.length, (System.nanoTime() - regStart) / 1e9);
            awaitHeartbeats();

            Map<String, Object> policy = new LinkedHashMap<>();
            policy.put("hangFloor", "PT" + Math.max(1, Math.round(hangFloorReal / compression)) + "S");
            policy.put("stragglerWindowSteps", intArg("straggler-window-steps", 20));
            if (fleet.settings.onTraceClock()) {
                // failures land in restarts on purpose here: the guards against a crash loop would end the run
                policy.put("noProgressRestarts", intArg("no-progress-restarts", 1000));
                policy.put("restartBudget", intArg("restart-budget", 1000));
            }
            if (baseline) {
                // what the OPT team had: every divergence goes to a human, and nobody scores stragglers
                policy.put("divergenceLadder", List.of());
                policy.put("stragglerFactor", BASELINE_STRAGGLER_FACTOR);
            }
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("name", "soak-opt-175b");
            spec.put("model", Map.of("size", "175B"));
            spec.put("data", Map.of("sample", "europarl"));
            spec.put("hyper", Map.of("batchTokens", 2048L * world));
            spec.put("worldSize", world);
            spec.put("spares", spares);
            spec.put("checkpointInterval", intArg("checkpoint-interval", 50));
            spec.put("checkpointLocation", "/soak/checkpoints");
            spec.put("recoveryPolicy", policy);
            String runId = submit(spec);
            say("run %s submitted: policy %s", runId, policy);

            double placed = waitFor(300, () -> fleet.snapshot().steps() > 0);
            if (Double.isNaN(placed)) {
                throw new IllegalStateException("the run made no step within 300 s of its submission");
            }
            say("first step %.1f s after submission", placed);
            TraceModel model = new TraceModel(num("min-share", 0.04));
            List<TraceModel.Event> trace = model.eventsFor(seed, minutes * 60, meanGap);
            say("trace: %d failures in %.0f min (mean gap %.0f s; rate compressed %.0f× against MTTF 7.9 h at 1,024 GPUs)",
                    trace.size(), minutes, meanGap,
                    TraceModel.rateCompression(world * fleet.settings.gpusPerNode(), meanGap));
            double traceStart = fleet.now();
            fleet.onLoop(() -> {
                fleet.beginTrace(trace);
                return null;
            });

            Watch watch = new Watch(runId, humanSeconds, num("stuck-seconds", 240), num("incident-limit-seconds", 900));
            long soakEnd = System.nanoTime() + (long) (minutes * 60e9);
            while (System.nanoTime() < soakEnd && !watch.ended) {
                watch.once();
            }
            fleet.stopInjecting();
            say("trace over; draining (up to %.0f s) until the run trains and every incident settled", num("drain-seconds", 300));
            long drainEnd = System.nanoTime() + (long) (num("drain-seconds", 300) * 1e9);
            while (System.nanoTime() < drainEnd && !watch.ended && !watch.settled()) {
                watch.once();
            }
            Thread.sleep(5000); // the last alerts' dispatch (1 s poll)
            return finish(runId, watch, hooks, traceStart, world);
        }
    }

    /** Polls the run and its incidents, stands in for the human when one is called, and checks the run is not stuck. */
    private final class Watch {
        final String runId;
        final double humanSeconds;
        final double stuckSeconds;
        final double incidentLimit;
        String state = "";
        JsonNode incidents = Api.JSON.createArrayNode();
        double pausedSince = Double.NaN;
        boolean stuckFlagged;
        final Set<Long> flaggedIncidents = new java.util.HashSet<>();
        boolean ended;
        long lastPrint;
        int polls;

        Watch(String runId, double humanSeconds, double stuckSeconds, double incidentLimit) {
            this.runId = runId;
            this.humanSeconds = humanSeconds;
            this.stuckSeconds = stuckSeconds;
            this.incidentLimit = incidentLimit;
        }

        void once() throws InterruptedException {
            Thread.sleep(2000);
            double t = fleet.now();
            try {
                state = api.getTree("/api/v1/runs/" + runId).path("state").asString();
                if (polls++ % 3 == 0) {
                    incidents = api.getTree("/api/v1/runs/" + runId + "/incidents");
                    Set<UUID> failed = new java.util.HashSet<>();
                    api.getTree("/api/v1/nodes?state=FAILED&size=500").path("items").forEach(n -> failed.add(
                            UUID.fromString(n.path("id").asString())));
                    int readmitted = fleet.readmitLater(failed);
                    if (readmitted > 0) {
                        say("%d node(s) failed that no fault broke: the operator readmits them after the repair time",
                                readmitted);
                    }
                }
            } catch (RuntimeException e) {
                say("poll failed: %s", e.getMessage());
                return;
            }
            boolean open = false;
            Instant nowAt = Instant.now();
            for (JsonNode i : incidents) {
                if (UNSETTLED.contains(i.path("state").asString())) {
                    open = true;
                    double age = (nowAt.toEpochMilli() - Instant.parse(i.path("detectedAt").asString()).toEpochMilli()) / 1000.0;
                    if (age > incidentLimit && flaggedIncidents.add(i.path("id").asLong())) {
                        invariants.incidentUnsettled(t, i.path("id").asLong(), i.path("kind").asString(),
                                i.path("state").asString(), age);
                    }
                }
            }
            if (state.equals("PAUSING") || state.equals("PAUSED")) {
                if (Double.isNaN(pausedSince)) {
                    pausedSince = t;
                    say("the run needs a human (%s); the soak's operator resumes it after %.0f s", state, humanSeconds);
                }
                if (state.equals("PAUSED") && t - pausedSince >= humanSeconds) {
                    HttpResponse<String> r = api.adminPost("/api/v1/runs/" + runId + "/resume", null).join();
                    if (r.statusCode() / 100 == 2) {
                        fleet.humanWaited(t - pausedSince);
                        pausedSince = Double.NaN;
                    }
                }
            } else if (Set.of("FAILED", "CANCELLED", "SUCCEEDED").contains(state)) {
                say("the run ended: %s", state);
                ended = true;
            }
            Fleet.Snapshot s = fleet.snapshot();
            if (s.sinceLastStep() > stuckSeconds && !open && !(state.equals("PAUSED") || state.equals("PAUSING"))) {
                if (!stuckFlagged) {
                    invariants.runStuck(t, state, s.sinceLastStep());
                    stuckFlagged = true;
                }
            } else if (s.sinceLastStep() < stuckSeconds) {
                stuckFlagged = false;
            }
            if (System.nanoTime() - lastPrint > 30e9) {
                lastPrint = System.nanoTime();
                HeartbeatLatencies.Window w = fleet.onLoop(() -> {
                    List<HeartbeatLatencies.Window> ws = fleet.latencies.windows((int) (t / 60));
                    return ws.isEmpty() ? null : ws.get(ws.size() - 1);
                });
                say("t=%4.0fs %-10s gen %d step %d, %d recoveries%s, nodes up/down/cut %d/%d/%d, reports ok/fenced/err "
                                + "%d/%d/%d, hb p99 %s ms, injected %s, load %s",
                        t, state, s.generation(), s.step(), s.recoveries(), s.recovering() ? " (one under way)" : "",
                        s.nodesUp(), s.nodesDown(), s.partitioned(), s.reportsAccepted(), s.reportsFenced(),
                        s.reportErrors(), w == null ? "-" : String.format(Locale.ROOT, "%.1f", w.p99()), s.injected(),
                        load());
            }
        }

        boolean settled() {
            if (!state.equals("RUNNING") || fleet.snapshot().recovering()) {
                return false;
            }
            for (JsonNode i : incidents) {
                if (UNSETTLED.contains(i.path("state").asString())) {
                    return false;
                }
            }
            return true;
        }
    }

    private int finish(String runId, Watch watch, WebhookReceiver hooks, double traceStart, int world)
            throws IOException {
        double t = fleet.now();
        JsonNode incidents = api.getTree("/api/v1/runs/" + runId + "/incidents");
        for (JsonNode i : incidents) {
            if (UNSETTLED.contains(i.path("state").asString()) && !watch.flaggedIncidents.contains(i.path("id").asLong())) {
                invariants.incidentUnsettled(t, i.path("id").asLong(), i.path("kind").asString(),
                        i.path("state").asString(), Double.NaN);
            }
        }
        // every alert once: no webhook-id twice, every incident opened and every run transition delivered
        hooks.duplicates().forEach((id, n) -> invariants.alertProblem(t, "webhook-id " + id + " delivered " + n + " times"));
        Set<Long> opened = hooks.incidentsOpened();
        for (JsonNode i : incidents) {
            if (!opened.contains(i.path("id").asLong())) {
                invariants.alertProblem(t, "incident.opened of incident #" + i.path("id").asLong() + " never arrived");
            }
        }
        Map<String, Integer> expected = new HashMap<>();
        for (JsonNode e : api.getTree("/api/v1/runs/" + runId + "/events")) {
            if (!e.path("from").isMissingNode() && !e.path("from").isNull()) {
                expected.merge(WebhookReceiver.transition(e.path("from").asString(), e.path("to").asString(),
                        e.path("generation").asLong()), 1, Integer::sum);
            }
        }
        expected.forEach((k, n) -> {
            if (hooks.transitionsReceived(k) < n) {
                invariants.alertProblem(t, "run.state_changed " + k + ": " + n + " in the run's events, "
                        + hooks.transitionsReceived(k) + " delivered");
            }
        });

        int firstMinute = (int) (traceStart / 60);
        HeartbeatLatencies.Window overall = fleet.onLoop(() -> fleet.latencies.overall(firstMinute));
        List<HeartbeatLatencies.Window> minutes = fleet.onLoop(() -> fleet.latencies.windows(firstMinute));
        double limit = num("p99-limit-ms", 50);
        invariants.heartbeatP99(t, overall.p99(), limit, "whole soak after registration");
        for (HeartbeatLatencies.Window w : minutes) {
            invariants.heartbeatP99(t, w.p99(), limit, "minute " + w.minute());
        }

        // recoveries: detection from the orchestrator's incidents (same machine, same clock)
        long t0Epoch = System.currentTimeMillis() - (long) (fleet.now() * 1000);
        List<GoodputReport.Episode> episodes = new ArrayList<>();
        List<Fleet.Recovery> recoveries = fleet.recoveries();
        int undetected = 0;
        for (Fleet.Recovery r : recoveries) {
            double detected = Double.NaN;
            for (JsonNode i : incidents) {
                if (i.path("generation").asLong() != r.generation()) {
                    continue;
                }
                double at = (Instant.parse(i.path("detectedAt").asString()).toEpochMilli() - t0Epoch) / 1000.0;
                if (at >= r.failedAt() - 1 && (Double.isNaN(detected) || at < detected)) {
                    detected = at;
                }
            }
            if (Double.isNaN(detected)) {
                undetected++;
                detected = r.stoppedAt();
            }
            double stopped = Math.max(r.stoppedAt(), detected);
            episodes.add(new GoodputReport.Episode(r.cause(), r.faults(), detected - r.failedAt(), stopped - detected,
                    // restart: placement and every rank's agent picking it up (wall clock); restore: the
                    // simulated restore and first step (step clock)
                    Math.max(0, r.allLaunchedAt() - stopped), r.firstStepAt() - r.allLaunchedAt(), r.lostSteps(),
                    r.humanSeconds(), r.generation()));
        }
        GoodputReport.Params params = new GoodputReport.Params(compression, num("real-step-seconds", 15),
                num("human-real-seconds", 1800), num("baseline-node-wait-real-seconds", 1800));
        GoodputReport.Result result = GoodputReport.build(episodes, params);

        Fleet.Snapshot s = fleet.snapshot();
        double soakSeconds = t - traceStart;
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("settings", new java.util.TreeMap<>(args));
        report.put("policy", baseline ? "baseline" : "ours");
        report.put("injection", fleet.settings.onTraceClock() ? "trace clock" : "one at a time");
        List<GoodputReport.Minute> overTime = GoodputReport.overTime(fleet.progress(), traceStart,
                num("step-seconds", 1.0));
        report.put("goodputOverTime", overTime);
        report.put("compression", compression);
        report.put("nodes", fleet.nodes.length);
        report.put("worldSize", world);
        report.put("soakSeconds", soakSeconds);
        report.put("loadAverageAtEnd", load());
        report.put("injected", s.injected());
        report.put("incidents", incidents.size());
        report.put("incidentsByKind", countBy(incidents, "kind"));
        report.put("incidentsByState", countBy(incidents, "state"));
        report.put("recoveriesTimed", recoveries.size());
        report.put("recoveriesWithoutIncident", undetected);
        report.put("restartsNoFailureAskedFor", s.unprovokedRestarts());
        report.put("nodesFailedWithoutFault", fleet.onLoop(() -> fleet.spuriousFailures));
        report.put("finalStep", s.step());
        report.put("finalGeneration", s.generation());
        report.put("stepsTaken", s.steps());
        report.put("soakGoodputCompressed", s.steps() * num("step-seconds", 1.0) / soakSeconds);
        report.put("reports", Map.of("accepted", s.reportsAccepted(), "fenced", s.reportsFenced(),
                "errors", s.reportErrors()));
        report.put("heartbeatErrors", s.heartbeatErrors());
        report.put("heartbeatLatency", overall);
        report.put("heartbeatLatencyPerMinute", minutes);
        report.put("webhooks", Map.of("received", hooks.received(), "byType", hooks.byType()));
        report.put("orchestrator", orchestratorFigures(soakSeconds));
        report.put("goodput", result);
        report.put("episodes", episodes);
        report.put("violations", invariants.violations());
        report.put("violationCounts", invariants.counts());

        Path dir = Path.of(out);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("report.json"),
                Api.JSON.rebuild().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(report));
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "# Soak: %d nodes, %d ranks, %.1f min of failures, seed %s, %s policy%n%n",
                fleet.nodes.length, world, soakSeconds / 60, args.getOrDefault("seed", "1"),
                baseline ? "baseline" : "Steadyrun's"));
        if (baseline) {
            md.append("This soak replayed the trace under the baseline policy (every divergence to a human, no straggler"
                    + " scoring; spares and free nodes as given): its measured columns are the baseline's. The"
                    + " priced 'baseline' columns below price it once more and do not apply.\n\n");
        }
        md.append(String.format(Locale.ROOT, "Injected %s; %d incidents %s; %d recoveries timed; final step %d at "
                        + "generation %d; soak goodput (compressed clock) %.1f %%.%n%n",
                s.injected(), incidents.size(), countBy(incidents, "kind"), recoveries.size(), s.step(),
                s.generation(), 100 * s.steps() * num("step-seconds", 1.0) / soakSeconds));
        if (fleet.settings.onTraceClock()) {
            md.append("Failures were injected on the trace's clock: each at its time, a failure during an open recovery"
                    + " joining it. A recovery's phases then cover every failure that joined it, and the figures per"
                    + " cause below are per recovery (under its first failure's cause), not per failure.\n\n");
        }
        double[] perMinute = overTime.stream().mapToDouble(GoodputReport.Minute::goodput).sorted().toArray();
        if (perMinute.length > 0) {
            md.append(String.format(Locale.ROOT, "Goodput per minute (step clock, report.svg): lowest %.0f %%, median"
                            + " %.0f %%, highest %.0f %% over %d minutes.%n%n", 100 * perMinute[0],
                    100 * GoodputReport.percentile(perMinute, 0.5), 100 * perMinute[perMinute.length - 1],
                    perMinute.length));
        }
        md.append(String.format(Locale.ROOT, "Heartbeats (agent's round trip, after registration): %d, p50 %.1f ms, "
                + "p99 %.1f ms, max %.1f ms; %d errors. Load average at the end: %s.%n%n", overall.count(), overall.p50(),
                overall.p99(), overall.max(), s.heartbeatErrors(), load()));
        @SuppressWarnings("unchecked")
        Map<String, Object> orchestrator = (Map<String, Object>) report.get("orchestrator");
        Map<String, Object> figures = new LinkedHashMap<>(orchestrator);
        figures.values().removeIf(PrometheusTimer.class::isInstance);
        md.append("Orchestrator: ").append(figures).append("\n\n");
        if (orchestrator.get("schedulingPass") instanceof PrometheusTimer pass) {
            md.append("Scheduling passes: ").append(pass.summary()).append(".\n\nRestart requests placed: ")
                    .append(((PrometheusTimer) orchestrator.get("restartPlaced")).summary())
                    .append("; considered and left waiting: ")
                    .append(((PrometheusTimer) orchestrator.get("restartWaiting")).summary()).append(".\n\n");
        }
        md.append(GoodputReport.markdown(result, params)).append('\n');
        // a soak whose failures come faster than its checkpoints measures little lost work: say what the interval gives
        double intervalLost = intArg("checkpoint-interval", 50) * num("real-step-seconds", 15) / 2;
        md.append(String.format(Locale.ROOT, "With a failure halfway through a checkpoint interval on average (%.0f s "
                        + "lost at %d steps) instead of the measured lost work: %.2f %% at MTTF 7.9 h, %.2f %% at 1.8 h.%n%n",
                intervalLost, intArg("checkpoint-interval", 50),
                100 * GoodputReport.goodput(7.9 * 3600, result.meanDowntime(), intervalLost),
                100 * GoodputReport.goodput(1.8 * 3600, result.meanDowntime(), intervalLost)));
        md.append("## Invariants\n\n");
        if (invariants.violations().isEmpty()) {
            md.append("None broken.\n");
        }
        for (Invariants.Violation v : invariants.violations()) {
            md.append(String.format(Locale.ROOT, "- **%s** at %.0f s: %s%n", v.name(), v.atSeconds(), v.detail()));
        }
        Files.writeString(dir.resolve("report.md"), md);
        Files.writeString(dir.resolve("report.svg"), GoodputChart.svg(result, overTime));
        System.out.println();
        System.out.println(md);
        System.out.println("written: " + dir.resolve("report.md") + ", " + dir.resolve("report.json") + ", "
                + dir.resolve("report.svg"));
        if (!invariants.violations().isEmpty()) {
            System.out.println("BROKEN INVARIANTS: " + invariants.counts());
            return 1;
        }
        return 0;
    }

    /** Submits the run; while the last nodes' first heartbeats are still being judged the fleet may look short (422). */
    private String submit(Map<String, Object> spec) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> r;
            try {
                r = api.adminPost("/api/v1/runs", spec).join();
            } catch (RuntimeException e) {
                // timed out: it may have been stored all the same, and a second run would wait for nodes for ever
                Thread.sleep(5000);
                for (JsonNode run : api.getTree("/api/v1/runs?size=20").path("items")) {
                    if (spec.get("name").equals(run.path("name").asString())) {
                        return run.path("id").asString();
                    }
                }
                continue;
            }
            if (r.statusCode() == 201) {
                return Api.JSON.readTree(r.body()).path("id").asString();
            }
            if (r.statusCode() != 422 || attempt == 60) {
                throw new IllegalStateException("POST /api/v1/runs answered " + r.statusCode() + ": " + r.body());
            }
            Thread.sleep(2000);
        }
    }

    /** CPU from /proc of the orchestrator's pid, heap and heartbeat handling from its Prometheus endpoint. */
    private Map<String, Object> orchestratorFigures(double seconds) {
        Map<String, Object> f = new LinkedHashMap<>();
        String pid = args.get("server-pid");
        if (pid != null) {
            try {
                String stat = Files.readString(Path.of("/proc", pid, "stat"));
                String[] p = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                double cpu = (Long.parseLong(p[11]) + Long.parseLong(p[12])) / 100.0;
                f.put("cpuSecondsTotal", cpu);
                f.put("rssMiB", Long.parseLong(p[21]) * 4096 / (1 << 20));
            } catch (IOException | RuntimeException e) {
                f.put("cpu", "unreadable: " + e.getMessage());
            }
        }
        String metrics = args.get("metrics-url");
        if (metrics != null) {
            try {
                String body = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(metrics)).build(), HttpResponse.BodyHandlers.ofString()).body();
                double heap = 0;
                for (String line : body.split("\n")) {
                    if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                        heap += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                    } else if (line.startsWith("steadyrun_heartbeat_latency_seconds_max")
                            || line.startsWith("steadyrun_heartbeat_latency_seconds_count")
                            || line.startsWith("steadyrun_heartbeat_latency_seconds_sum")
                            || line.startsWith("process_cpu_usage")) {
                        f.put(line.substring(0, line.lastIndexOf(' ')), line.substring(line.lastIndexOf(' ') + 1));
                    }
                }
                f.put("schedulingPass", PrometheusTimer.read(body, "steadyrun_scheduling_pass", ""));
                f.put("restartPlaced", PrometheusTimer.read(body, "steadyrun_restart_placement", "outcome=\"placed\""));
                f.put("restartWaiting", PrometheusTimer.read(body, "steadyrun_restart_placement",
                        "outcome=\"waiting\""));
                f.put("heapUsedMiB", Math.round(heap / (1 << 20)));
            } catch (IOException | RuntimeException e) {
                f.put("metrics", "unreadable: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return f;
    }

    private static Map<String, Integer> countBy(JsonNode list, String field) {
        Map<String, Integer> out = new java.util.TreeMap<>();
        for (JsonNode n : list) {
            out.merge(n.path(field).asString(), 1, Integer::sum);
        }
        return out;
    }

    private void awaitHeartbeats() throws InterruptedException {
        double waited = waitFor(300, () -> fleet.onLoop(() -> {
            for (Fleet.Node n : fleet.nodes) {
                if (Double.isNaN(n.lastHeartbeatOk)) {
                    return false;
                }
            }
            return true;
        }));
        if (Double.isNaN(waited)) {
            throw new IllegalStateException("not every node was answered a heartbeat within 300 s");
        }
        Thread.sleep(3000); // a pass or two: the nodes are HEALTHY
    }

    /** Seconds until {@code condition} held, or NaN after {@code limit} seconds. */
    private static double waitFor(double limit, java.util.function.BooleanSupplier condition)
            throws InterruptedException {
        long start = System.nanoTime();
        while ((System.nanoTime() - start) / 1e9 < limit) {
            if (condition.getAsBoolean()) {
                return (System.nanoTime() - start) / 1e9;
            }
            Thread.sleep(500);
        }
        return Double.NaN;
    }

    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static void say(String format, Object... values) {
        System.out.printf(Locale.ROOT, "[%s] " + format + "%n", prepend(Instant.now().toString().substring(11, 19), values));
    }

    private static Object[] prepend(Object first, Object[] rest) {
        Object[] all = new Object[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private String arg(String key, String fallback) {
        String v = args.getOrDefault(key, fallback);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }

    private double num(String key, double fallback) {
        return Double.parseDouble(args.getOrDefault(key, Double.toString(fallback)));
    }

    private int intArg(String key, int fallback) {
        return Integer.parseInt(args.getOrDefault(key, Integer.toString(fallback)));
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
