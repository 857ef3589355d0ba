import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Node-loss detection and recovery, measured against a real orchestrator over real HTTP with the wall clock.
 * Each round: three simulated agents (two ranks and a spare of a fresh run) beat every second as real agents do;
 * the ranks report a step and a checkpoint; then rank 1's agent stops beating (a SIGKILLed agent). The bench polls
 * the run's incidents every 20 ms and prints, per round, the time from that agent's last answered heartbeat to the
 * NODE_LOST incident being visible in the API, the orchestrator's own detectionLatencySeconds, and the time from
 * detection to the first step of the new generation (rank 0 exits "peer lost" when told STOP, the spare starts
 * at the new generation and reports a step at once; the run's policy sets the backoff to 1 s). Run as a
 * single-file program: {@code java NodeLossBench.java --url ... --token ... --rounds 5}.
 */
public class NodeLossBench {

    static final Pattern ID = Pattern.compile("\"nodeId\"\\s*:\\s*\"([^\"]+)\"");
    static final Pattern CREDENTIAL = Pattern.compile("\"nodeCredential\"\\s*:\\s*\"([^\"]+)\"");
    static final Pattern RUN_ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"");
    static final Pattern DESIRED = Pattern.compile("\"desired\"\\s*:\\s*\"([A-Z]+)\"");
    static final Pattern RANK = Pattern.compile("\"rank\"\\s*:\\s*(\\d+)");
    static final Pattern GENERATION = Pattern.compile("\"assignment\"\\s*:\\s*\\{[^}]*?\"generation\"\\s*:\\s*(\\d+)");

    static HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static String url;

    /** One simulated agent: what it runs, as its heartbeats say. */
    static final class Agent {
        final String name;
        String id;
        String credential;
        volatile boolean alive = true;
        volatile String trainer = idle();
        volatile long lastAnsweredNanos;
        volatile String lastAnswer = "";
        long seq;

        Agent(String name) {
            this.name = name;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        url = a.getOrDefault("url", "http://127.0.0.1:18097");
        String join = a.getOrDefault("join-token", "bench-join-token-0123456789");
        String token = a.getOrDefault("token", "bench-admin-token-0123456789");
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "5"));
        List<Double> seen = new ArrayList<>();
        List<Double> reported = new ArrayList<>();
        List<Double> recovery = new ArrayList<>();
        ScheduledExecutorService beats = Executors.newScheduledThreadPool(4);
        for (int round = 0; round < rounds; round++) {
            String rack = "bench-" + round + "-" + System.nanoTime() % 100000;
            List<Agent> agents = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Agent g = new Agent(rack + "-n" + i);
                String r = send("POST", "/api/v1/agents/register", join, """
                        {"nodeName":"%s","hostname":"%s.local","gpus":[{"index":0,"uuid":"GPU-%s","model":"H100",
                        "memoryMiB":81559}],"labels":{"rack":"%s"},"agentVersion":"bench"}""".formatted(g.name, g.name,
                        g.name, rack)).body();
                g.id = group(ID, r);
                if (g.id == null) {
                    throw new IllegalStateException("register " + g.name + ": " + r);
                }
                g.credential = group(CREDENTIAL, r);
                agents.add(g);
                beat(g);
                beats.scheduleAtFixedRate(() -> beat(g), 1000, 1000, TimeUnit.MILLISECONDS);
            }
            String run = send("POST", "/api/v1/runs", token, """
                    {"name":"%s","model":{"size":"tiny"},"data":{"sample":"europarl"},"worldSize":2,"spares":1,
                     "hyper":{"batchTokens":1024},"nodeSelector":{"rack":"%s"},
                     "recoveryPolicy":{"backoffInitial":"PT1S","backoffMax":"PT1S"}}""".formatted(rack, rack)).body();
            String runId = group(RUN_ID, run);
            Map<Integer, Agent> ranks = new ConcurrentHashMap<>();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (ranks.size() < 2 && System.nanoTime() < deadline) {
                for (Agent g : agents) {
                    String answer = g.lastAnswer;
                    if ("RUN".equals(group(DESIRED, answer)) && !ranks.containsValue(g)) {
                        int rank = Integer.parseInt(group(RANK, answer));
                        ranks.put(rank, g);
                        g.trainer = trainer("RUNNING", runId, rank, 1, null);
                        report(g, runId, rank, 1, 10, true);
                    }
                }
                Thread.sleep(20);
            }
            if (ranks.size() < 2) {
                throw new IllegalStateException("run " + runId + " was not placed: " + run);
            }
            Agent lost = ranks.get(1);
            Agent survivor = ranks.get(0);
            Agent spare = agents.stream().filter(g -> !ranks.containsValue(g)).findFirst().orElseThrow();
            Thread.sleep(1500);
            lost.alive = false; // SIGKILL: no more heartbeats
            long lastBeat = lost.lastAnsweredNanos;
            String incident = "";
            long detectDeadline = System.nanoTime() + 60_000_000_000L;
            while (!incident.contains("NODE_LOST")) {
                if (System.nanoTime() > detectDeadline) {
                    throw new IllegalStateException("round " + (round + 1) + ": no NODE_LOST incident within 60 s");
                }
                Thread.sleep(20);
                incident = send("GET", "/api/v1/runs/" + runId + "/incidents", token, null).body();
            }
            long detectedNanos = System.nanoTime();
            double wall = (detectedNanos - lastBeat) / 1e9;
            double orchestrator = Double.parseDouble(group(Pattern.compile(
                    "\"detectionLatencySeconds\"\\s*:\\s*([0-9.]+)"), incident));
            seen.add(wall);
            reported.add(orchestrator);
            // survivor: stop when told, exit "peer lost"; the spare starts at generation 2 and reports a step
            long restartDeadline = System.nanoTime() + 60_000_000_000L;
            boolean recovered = false;
            while (!recovered && System.nanoTime() < restartDeadline) {
                if ("STOP".equals(group(DESIRED, survivor.lastAnswer))) {
                    survivor.trainer = trainer("EXITED", runId, 0, 1, 5);
                }
                for (Agent g : List.of(survivor, spare)) {
                    String answer = g.lastAnswer;
                    if ("RUN".equals(group(DESIRED, answer)) && "2".equals(group(GENERATION, answer))) {
                        int rank = Integer.parseInt(group(RANK, answer));
                        report(g, runId, rank, 2, 11, false);
                        recovered = true;
                    }
                }
                Thread.sleep(20);
            }
            if (!recovered) {
                throw new IllegalStateException("round " + (round + 1) + ": generation 2 did not train within 60 s");
            }
            long recoveredNanos = System.nanoTime();
            recovery.add((recoveredNanos - detectedNanos) / 1e9);
            System.out.printf("round %d: node loss visible in the API %.2f s after the last heartbeat"
                            + " (orchestrator's detectionLatencySeconds %.2f); first step of generation 2 %.2f s"
                            + " after detection (backoff 1 s included)%n",
                    round + 1, wall, orchestrator, (recoveredNanos - detectedNanos) / 1e9);
            send("POST", "/api/v1/runs/" + runId + "/cancel", token, "{}");
            agents.forEach(g -> g.alive = false);
        }
        beats.shutdownNow();
        System.out.printf("detection after last heartbeat (wall clock): %s%n", summary(seen));
        System.out.printf("detectionLatencySeconds (orchestrator):      %s%n", summary(reported));
        System.out.printf("detection to first new step:                 %s%n", summary(recovery));
    }

    static void beat(Agent g) {
        if (!g.alive) {
            return;
        }
        try {
            String body = """
                    {"sequence":%d,"gpus":[{"index":0,"temperatureC":50,"memoryUsedMiB":1000,"memoryTotalMiB":81559,
                    "utilizationPct":0,"eccCorrectable":0,"eccUncorrectable":0,"retiredPages":0,"xidErrors":[],
                    "nvlinkErrors":0}],"trainer":%s}""".formatted(++g.seq, g.trainer);
            HttpResponse<String> r = http.send(request("POST", "/api/v1/agents/" + g.id + "/heartbeat", g.credential,
                    body), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200 && g.alive) {
                g.lastAnsweredNanos = System.nanoTime();
                g.lastAnswer = r.body();
            }
        } catch (Exception e) {
            System.err.println(g.name + ": " + e);
        }
    }

    static void report(Agent g, String runId, int rank, long generation, long step, boolean checkpoint) throws Exception {
        String steps = """
                [{"type":"step","step":%d,"tokensSeen":%d,"loss":3.0,"gradNorm":0.5,"lossScale":4.0,"overflow":false,
                "lr":0.001,"tokensPerSec":500,"stepTimeMs":1000,"rssBytes":1,"activationNorms":[]}]"""
                .formatted(step, step * 1024);
        String checkpoints = checkpoint ? """
                [{"type":"checkpoint","step":%d,"tokensSeen":%d,"path":"/bench/%s/%d","lossScale":4.0,"loss":3.0,
                "manifestSha256":"ab","bytes":1}]""".formatted(step, step * 1024, runId, step) : "[]";
        send("POST", "/api/v1/agents/" + g.id + "/reports", g.credential, """
                {"runId":"%s","rank":%d,"generation":%d,"steps":%s,"checkpoints":%s}"""
                .formatted(runId, rank, generation, steps, checkpoints));
    }

    static String idle() {
        return "{\"state\":\"IDLE\",\"runId\":null,\"rank\":-1,\"generation\":0,\"exitCode\":null,\"lastStep\":-1,"
                + "\"logTail\":[],\"threadDump\":null}";
    }

    static String trainer(String state, String runId, int rank, long generation, Integer exit) {
        return "{\"state\":\"%s\",\"runId\":\"%s\",\"rank\":%d,\"generation\":%d,\"exitCode\":%s,\"lastStep\":10,\"logTail\":[],\"threadDump\":null}"
                .formatted(state, runId, rank, generation, exit);
    }

    static HttpResponse<String> send(String method, String path, String token, String body) throws Exception {
        return http.send(request(method, path, token, body), HttpResponse.BodyHandlers.ofString());
    }

    static HttpRequest request(String method, String path, String token, String body) {
        return HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static String group(Pattern p, String text) {
        Matcher m = p.matcher(text == null ? "" : text);
        return m.find() ? m.group(1) : null;
    }

    static String summary(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return String.format("n=%d min %.2f s, median %.2f s, max %.2f s", s.size(), s.get(0), s.get(s.size() / 2),
                s.get(s.size() - 1));
    }
}
