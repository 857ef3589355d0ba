import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.sun.net.httpserver.HttpServer;

/**
 * Webhook delivery benchmark: runs a receiver on 127.0.0.1 (failing a share of requests with 500 on purpose),
 * subscribes it to node.cordoned through the API, registers nodes and cordons/uncordons them over the real API as
 * fast as it can, then waits until every cordon has reached the receiver. Prints the drain throughput, the
 * cordon-to-receipt latency percentiles (includes the dispatcher's poll interval and retries), duplicates and
 * order violations per node. Single-file program: {@code java WebhookDrain.java --help}.
 */
public class WebhookDrain {

    static final Pattern FIELD = Pattern.compile("\"(nodeId|id|nodeName)\"\\s*:\\s*\"([^\"]+)\"");

    record Receipt(String webhookId, String nodeName, String at, long receivedNanos) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        if (List.of(args).contains("--help")) {
            System.out.println("--url U --admin-token T --join-token J --nodes N --cordons-per-node C "
                    + "--fail-percent P --timeout-s S --backlog true|false");
            return;
        }
        String url = a.getOrDefault("url", "http://127.0.0.1:18081");
        String admin = a.getOrDefault("admin-token", "bench-admin-token-0123456789");
        String join = a.getOrDefault("join-token", "bench-join-token-0123456789");
        int nodes = Integer.parseInt(a.getOrDefault("nodes", "20"));
        int perNode = Integer.parseInt(a.getOrDefault("cordons-per-node", "25"));
        int failPercent = Integer.parseInt(a.getOrDefault("fail-percent", "0"));
        int timeoutS = Integer.parseInt(a.getOrDefault("timeout-s", "300"));
        // backlog: the receiver is down (port closed) while the events are produced, then comes back; the drain
        // is timed from its return
        boolean backlog = Boolean.parseBoolean(a.getOrDefault("backlog", "false"));

        ConcurrentLinkedQueue<Receipt> receipts = new ConcurrentLinkedQueue<>();
        HttpServer receiver = receiver(0, receipts, failPercent);
        int receiverPort = receiver.getAddress().getPort();

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        String hook = "http://127.0.0.1:" + receiverPort + "/hook";
        check(send(http, "POST", url + "/api/v1/webhooks", admin,
                "{\"name\":\"bench\",\"url\":\"" + hook + "\",\"eventTypes\":[\"node.cordoned\"]}"), 201);
        if (backlog) {
            receiver.stop(0);
        }

        List<String> ids = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            String name = "wh-bench-" + i;
            String r = check(send(http, "POST", url + "/api/v1/agents/register", join,
                    "{\"nodeName\":\"" + name + "\",\"hostname\":\"" + name + ".local\",\"gpus\":[],\"labels\":{},"
                            + "\"agentVersion\":\"bench\"}"), 200);
            ids.add(field(r, "nodeId"));
        }

        Map<String, List<Long>> cordonedAt = new ConcurrentHashMap<>();
        long start = System.nanoTime();
        for (int c = 0; c < perNode; c++) {
            for (int i = 0; i < nodes; i++) {
                cordonedAt.computeIfAbsent("wh-bench-" + i, k -> Collections.synchronizedList(new ArrayList<>()))
                        .add(System.nanoTime());
                check(send(http, "POST", url + "/api/v1/nodes/" + ids.get(i) + "/cordon", admin,
                        "{\"reason\":\"bench " + c + "\"}"), 200);
                check(send(http, "POST", url + "/api/v1/nodes/" + ids.get(i) + "/uncordon", admin, "{}"), 200);
            }
        }
        long produced = System.nanoTime();
        if (backlog) {
            receiver = receiver(receiverPort, receipts, failPercent);
        }
        long receiverUp = System.nanoTime();
        int expected = nodes * perNode;
        long deadline = produced + Duration.ofSeconds(timeoutS).toNanos();
        while (uniqueIds(receipts) < expected && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        long drained = System.nanoTime();
        receiver.stop(0);

        List<Receipt> got = new ArrayList<>(receipts);
        Set<String> unique = new HashSet<>();
        int duplicates = 0;
        Map<String, Integer> seenPerNode = new HashMap<>();
        Map<String, String> lastAt = new HashMap<>();
        int outOfOrder = 0;
        List<Long> latencies = new ArrayList<>();
        got.sort((x, y) -> Long.compare(x.receivedNanos(), y.receivedNanos()));
        for (Receipt r : got) {
            if (!unique.add(r.webhookId())) {
                duplicates++;
                continue;
            }
            String previous = lastAt.put(r.nodeName(), r.at());
            if (previous != null && Instant.parse(fixOffset(previous)).isAfter(Instant.parse(fixOffset(r.at())))) {
                outOfOrder++;
            }
            int n = seenPerNode.merge(r.nodeName(), 1, Integer::sum);
            List<Long> sent = cordonedAt.get(r.nodeName());
            if (sent != null && n <= sent.size()) {
                latencies.add(r.receivedNanos() - sent.get(n - 1));
            }
        }
        Collections.sort(latencies);
        System.out.printf("events: %d expected, %d received (unique), %d duplicates, %d out of order per node%n",
                expected, unique.size(), duplicates, outOfOrder);
        System.out.printf("produce: %.1f s (cordon+uncordon over the API), drain finished %.1f s after the last cordon%n",
                (produced - start) / 1e9, (drained - produced) / 1e9);
        if (backlog) {
            System.out.printf("backlog drain: %d events in %.2f s after the receiver came back = %.0f events/s%n",
                    unique.size(), (drained - receiverUp) / 1e9, unique.size() / ((drained - receiverUp) / 1e9));
        } else {
            System.out.printf("delivery throughput: %.0f events/s over the whole run%n",
                    unique.size() / ((drained - start) / 1e9));
        }
        if (!latencies.isEmpty()) {
            System.out.printf("cordon -> receipt latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
                    pct(latencies, 50), pct(latencies, 99), latencies.get(latencies.size() - 1) / 1e6);
        }
        System.exit(unique.size() == expected && outOfOrder == 0 ? 0 : 1);
    }

    static HttpServer receiver(int port, ConcurrentLinkedQueue<Receipt> receipts, int failPercent)
            throws IOException {
        HttpServer receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        receiver.setExecutor(Executors.newFixedThreadPool(4));
        receiver.createContext("/hook", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            boolean fail = ThreadLocalRandom.current().nextInt(100) < failPercent;
            if (!fail) {
                receipts.add(new Receipt(ex.getRequestHeaders().getFirst("webhook-id"), field(body, "nodeName"),
                        stringField(body, "at"), System.nanoTime()));
            }
            ex.sendResponseHeaders(fail ? 500 : 204, -1);
            ex.close();
        });
        receiver.start();
        return receiver;
    }

    static String fixOffset(String at) {
        // PostgreSQL writes "+00:00" offsets; Instant.parse wants Z or a full ISO offset (accepted since JDK 12)
        return at.replace(" ", "T");
    }

    static double pct(List<Long> sorted, int p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1)) / 1e6;
    }

    static long uniqueIds(ConcurrentLinkedQueue<Receipt> receipts) {
        return receipts.stream().map(Receipt::webhookId).distinct().count();
    }

    static HttpResponse<String> send(HttpClient http, String method, String url, String token, String body)
            throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static String check(HttpResponse<String> r, int status) {
        if (r.statusCode() != status) {
            throw new IllegalStateException(r.request().method() + " " + r.uri() + " -> " + r.statusCode() + ": "
                    + r.body());
        }
        return r.body();
    }

    static String field(String json, String name) {
        Matcher m = FIELD.matcher(json);
        while (m.find()) {
            if (m.group(1).equals(name)) {
                return m.group(2);
            }
        }
        return stringField(json, name);
    }

    static String stringField(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*\"([^\"]+)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }
}
