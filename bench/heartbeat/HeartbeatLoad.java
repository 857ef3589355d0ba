import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Heartbeat load generator: registers N simulated nodes over real HTTP, then sends each one heartbeat per
 * interval, spread evenly over the interval, for a fixed time; prints throughput, errors and latency
 * percentiles. The interval is the one the orchestrator hands out (registration answer, then every heartbeat
 * answer, adopted at the next round), as a real agent does: a large fleet is told to beat less often.
 * HTTP/1.1 keep-alive: the client reuses its connections. Run as a single-file program (no dependencies):
 * {@code java HeartbeatLoad.java --help}. A simulated fleet, for benchmarking only.
 */
public class HeartbeatLoad {

    static final Pattern ID = Pattern.compile("\"nodeId\"\\s*:\\s*\"([^\"]+)\"");
    static final Pattern CREDENTIAL = Pattern.compile("\"nodeCredential\"\\s*:\\s*\"([^\"]+)\"");
    /** The interval in the answer's timings: ISO-8601 ("PT6.7S") or seconds (6.7), whichever Jackson writes. */
    static final Pattern INTERVAL = Pattern.compile("\"heartbeatInterval\"\\s*:\\s*\"?([^\",}]+)\"?");

    public static void main(String[] args) throws Exception {
        Map<String, String> a = parse(args);
        String url = a.getOrDefault("url", "http://127.0.0.1:18080");
        String join = a.getOrDefault("join-token", "bench-join-token-0123456789");
        int nodes = Integer.parseInt(a.getOrDefault("nodes", "1000"));
        int seconds = Integer.parseInt(a.getOrDefault("seconds", "30"));
        int maxInFlight = Integer.parseInt(a.getOrDefault("max-in-flight", "512"));
        int gpus = Integer.parseInt(a.getOrDefault("gpus", "8"));
        // With the orchestrator's pid (same machine, Linux), also report its CPU time per heartbeat: unlike
        // latency, that figure does not depend on how busy the rest of the machine is.
        String serverPid = a.get("server-pid");

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();

        // Registration (not measured as heartbeat load).
        String[] ids = new String[nodes];
        String[] creds = new String[nodes];
        AtomicLong intervalMs = new AtomicLong();
        long regStart = System.nanoTime();
        Semaphore regSlots = new Semaphore(32);
        AtomicInteger regErrors = new AtomicInteger();
        CompletableFuture<?>[] regs = new CompletableFuture<?>[nodes];
        for (int i = 0; i < nodes; i++) {
            int n = i;
            regSlots.acquire();
            regs[i] = http.sendAsync(post(url + "/api/v1/agents/register", join, registerBody(n, gpus)),
                    HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
                        regSlots.release();
                        if (e != null || r.statusCode() != 200) {
                            regErrors.incrementAndGet();
                            return;
                        }
                        ids[n] = match(ID, r.body());
                        creds[n] = match(CREDENTIAL, r.body());
                        intervalMs.accumulateAndGet(intervalMillis(r.body()), Math::max); // the fleet only grew
                    });
        }
        CompletableFuture.allOf(regs).exceptionally(e -> null).join();
        double regSeconds = (System.nanoTime() - regStart) / 1e9;
        System.out.printf("registered %d nodes in %.1f s (%.0f/s), %d errors; heartbeat interval handed out: %d ms%n",
                nodes - regErrors.get(), regSeconds, nodes / regSeconds, regErrors.get(), intervalMs.get());
        if (regErrors.get() > 0) {
            System.exit(1);
        }

        // The first beats are not measured: each node's first heartbeat moves it REGISTERED -> HEALTHY (one
        // transaction each), sent as fast as answered, like agents that just registered. Then warm-up rounds (the
        // server's JIT is cold) repeat, up to 10, until every node has been answered and a round ran on schedule.
        Fleet fleet = new Fleet(http, url, ids, creds, gpus, intervalMs, maxInFlight);
        long firstStart = System.nanoTime();
        Phase first = fleet.firstBeats();
        System.out.printf("first heartbeats: %d answered in %.1f s, %d errors%n", first.count,
                (System.nanoTime() - firstStart) / 1e9, first.errors.get());
        int warmup = (int) Math.max(Integer.parseInt(a.getOrDefault("warmup-seconds", "10")),
                Math.ceil(2 * intervalMs.get() / 1000.0));
        for (int round = 1; warmup > 0 && round <= 10; round++) {
            Phase w = fleet.run(warmup, null);
            long unanswered = fleet.neverAnswered();
            System.out.printf("warm-up %d: %d s, %d beats answered, %d errors, %d skipped, %d nodes not yet answered%n",
                    round, warmup, w.count, w.errors.get(), w.skipped.get(), unanswered);
            if (unanswered == 0 && w.skipped.get() == 0) {
                break;
            }
        }
        Phase p = fleet.run(seconds, serverPid);
        double target = nodes * 1000.0 / intervalMs.get();
        System.out.printf("heartbeat interval in force: %d ms (intervals in the answers: %s)%n", intervalMs.get(),
                p.intervals);
        System.out.printf("nodes=%d target=%.0f beats/s sent=%d answered=%d in %.1f s -> throughput %.0f beats/s%n",
                nodes, target, p.sent, p.count, p.elapsed, p.count / p.elapsed);
        System.out.printf("errors=%d %s skipped (over an interval behind schedule)=%d of %d planned%n",
                p.errors.get(), p.statuses, p.skipped.get(), p.sent + p.skipped.get());
        if (p.count > 0) {
            System.out.printf("latency ms: p50=%.2f p99=%.2f p99.9=%.2f max=%.2f%n", pct(p.latency, 0.50),
                    pct(p.latency, 0.99), pct(p.latency, 0.999), p.latency[p.count - 1] / 1000.0);
        }
        if (p.cpuTicks >= 0 && p.count > 0) {
            double cpuMs = p.cpuTicks * 1000.0 / 100; // Linux USER_HZ is 100
            System.out.printf("orchestrator CPU: %.1f s over the phase = %.3f ms per heartbeat"
                    + " (-> about %.0f beats/s per fully used core)%n", cpuMs / 1000, cpuMs / p.count,
                    p.count * 1000 / cpuMs);
        }
        System.out.printf("generator host load average: %s%n", loadAverage());
        System.exit(p.errors.get() == 0 ? 0 : 2);
    }

    /** What one timed run of heartbeats measured. */
    static final class Phase {
        long sent;
        int count;
        double elapsed;
        long cpuTicks = -1;
        long[] latency;
        final AtomicLong errors = new AtomicLong();
        final AtomicLong skipped = new AtomicLong();
        final Map<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
        /** Heartbeat interval (ms) -> how many answers carried it. */
        final Map<Long, AtomicLong> intervals = new ConcurrentHashMap<>();
    }

    /**
     * The registered simulated nodes; node i beats at offset i*interval/N within every round of one interval. The
     * interval is the latest one the orchestrator answered, adopted at the start of the next round.
     */
    record Fleet(HttpClient http, String url, String[] ids, String[] creds, int gpus, AtomicLong intervalMs,
                 int maxInFlight, long[] sequence, boolean[] answered) {

        Fleet(HttpClient http, String url, String[] ids, String[] creds, int gpus, AtomicLong intervalMs,
              int maxInFlight) {
            this(http, url, ids, creds, gpus, intervalMs, maxInFlight, new long[ids.length], new boolean[ids.length]);
        }

        /** One heartbeat from every node, as fast as the orchestrator answers them. */
        Phase firstBeats() throws InterruptedException {
            Phase p = new Phase();
            Semaphore slots = new Semaphore(maxInFlight);
            long[] latencyMicros = new long[ids.length];
            AtomicInteger recorded = new AtomicInteger();
            for (int n = 0; n < ids.length; n++) {
                beat(n, p, slots, latencyMicros, recorded);
            }
            slots.acquire(maxInFlight);
            p.count = recorded.get();
            return p;
        }

        long neverAnswered() {
            long n = 0;
            for (boolean a : answered) {
                n += a ? 0 : 1;
            }
            return n;
        }

        Phase run(int seconds, String serverPid) throws InterruptedException {
            int nodes = ids.length;
            Phase p = new Phase();
            long planned = (long) nodes * seconds * 1000 / intervalMs.get();
            // Room for twice the plan: the orchestrator may shorten the interval during the phase.
            long[] latencyMicros = new long[(int) Math.min(2 * planned + nodes, Integer.MAX_VALUE - 8)];
            AtomicInteger recorded = new AtomicInteger();
            Semaphore slots = new Semaphore(maxInFlight);
            long cpuBefore = cpuTicks(serverPid);
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            long roundStart = start;
            rounds:
            while (true) {
                long intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMs.get());
                for (int n = 0; n < nodes; n++) {
                    long due = roundStart + n * (intervalNanos / nodes);
                    if (due >= end) {
                        break rounds;
                    }
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    } else if (wait < -intervalNanos) {
                        // A whole interval behind schedule (the server or this generator cannot keep up): skip the
                        // beat, as a real agent would send its next one instead, and keep the phase to its length.
                        p.skipped.incrementAndGet();
                        continue;
                    }
                    beat(n, p, slots, latencyMicros, recorded);
                }
                roundStart += intervalNanos;
            }
            slots.acquire(maxInFlight); // wait for the last answers
            p.elapsed = (System.nanoTime() - start) / 1e9;
            long cpuAfter = cpuTicks(serverPid);
            if (cpuBefore >= 0 && cpuAfter >= 0) {
                p.cpuTicks = cpuAfter - cpuBefore;
            }
            p.count = Math.min(recorded.get(), latencyMicros.length);
            p.latency = Arrays.copyOf(latencyMicros, p.count);
            Arrays.sort(p.latency);
            return p;
        }

        private void beat(int n, Phase p, Semaphore slots, long[] latencyMicros, AtomicInteger recorded)
                throws InterruptedException {
            slots.acquire();
            String body = heartbeatBody(++sequence[n], gpus);
            long t0 = System.nanoTime();
            p.sent++;
            http.sendAsync(post(url + "/api/v1/agents/" + ids[n] + "/heartbeat", creds[n], body),
                    HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
                        long micros = (System.nanoTime() - t0) / 1000;
                        try {
                            if (e != null) {
                                p.errors.incrementAndGet();
                                return;
                            }
                            if (r.statusCode() != 200) {
                                p.errors.incrementAndGet();
                                p.statuses.computeIfAbsent(r.statusCode(), s -> new AtomicLong()).incrementAndGet();
                            } else {
                                long interval = intervalMillis(r.body());
                                intervalMs.set(interval); // adopted from the next round on, as an agent does
                                p.intervals.computeIfAbsent(interval, i -> new AtomicLong()).incrementAndGet();
                                answered[n] = true;
                            }
                            int idx = recorded.getAndIncrement();
                            if (idx < latencyMicros.length) {
                                latencyMicros[idx] = micros;
                            }
                        } finally {
                            slots.release(); // last: the phase's end waits for every slot, so all is counted
                        }
                    });
        }
    }

    /** utime + stime of a process in clock ticks, from /proc; -1 when unknown. */
    static long cpuTicks(String pid) {
        if (pid == null) {
            return -1;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", pid, "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of proc(5)
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    static double pct(long[] sorted, double p) {
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1000.0;
    }

    static HttpRequest post(String url, String token, String body) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static String registerBody(int n, int gpus) {
        StringBuilder g = new StringBuilder();
        for (int i = 0; i < gpus; i++) {
            g.append(i == 0 ? "" : ",").append("{\"index\":").append(i).append(",\"uuid\":\"GPU-bench-").append(n)
                    .append('-').append(i).append("\",\"model\":\"NVIDIA H100\",\"memoryMiB\":81559}");
        }
        return "{\"nodeName\":\"bench-" + n + "\",\"hostname\":\"bench-" + n + ".local\",\"gpus\":[" + g
                + "],\"labels\":{\"rack\":\"r" + (n % 16) + "\"},\"agentVersion\":\"bench\"}";
    }

    static String heartbeatBody(long sequence, int gpus) {
        StringBuilder g = new StringBuilder();
        for (int i = 0; i < gpus; i++) {
            g.append(i == 0 ? "" : ",").append("{\"index\":").append(i).append(",\"temperatureC\":61.5,")
                    .append("\"memoryUsedMiB\":70000,\"memoryTotalMiB\":81559,\"utilizationPct\":97.0,")
                    .append("\"eccCorrectable\":0,\"eccUncorrectable\":0,\"retiredPages\":0,\"xidErrors\":[],")
                    .append("\"nvlinkErrors\":0}");
        }
        return "{\"sequence\":" + sequence + ",\"gpus\":[" + g + "],\"trainer\":{\"state\":\"IDLE\",\"runId\":null,"
                + "\"rank\":-1,\"generation\":0,\"exitCode\":null,\"lastStep\":-1,\"logTail\":[],\"threadDump\":null}}";
    }

    /** The heartbeat interval in an answer's timings, in milliseconds. */
    static long intervalMillis(String body) {
        String v = match(INTERVAL, body).trim();
        return v.startsWith("PT") ? Duration.parse(v).toMillis() : Math.round(Double.parseDouble(v) * 1000);
    }

    static String match(Pattern p, String body) {
        Matcher m = p.matcher(body);
        if (!m.find()) {
            throw new IllegalStateException("unexpected answer: " + body);
        }
        return m.group(1);
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--help")) {
                System.out.println("java HeartbeatLoad.java [--url U] [--join-token T] [--nodes N]"
                        + " [--seconds 30] [--warmup-seconds 10] [--max-in-flight 512] [--gpus 8] [--server-pid PID]");
                System.exit(0);
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("bad argument " + args[i]);
            }
            out.put(args[i].substring(2), args[++i]);
        }
        return out;
    }
}
