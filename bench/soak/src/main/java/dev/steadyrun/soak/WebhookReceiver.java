package dev.steadyrun.soak;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;

import tools.jackson.databind.JsonNode;

/**
 * TEST TOOL — a local webhook receiver: answers 204 to every delivery and keeps, per Standard Webhooks
 * {@code webhook-id}, how often it came, so the soak can tell an alert delivered twice or never.
 */
final class WebhookReceiver implements AutoCloseable {

    private final HttpServer server;
    private final Map<String, AtomicInteger> byId = new ConcurrentHashMap<>();
    /** incident ids of {@code incident.opened} alerts received */
    private final Set<Long> incidentsOpened = ConcurrentHashMap.newKeySet();
    /** "fromState->toState@generation" of {@code run.state_changed} alerts received, with their count */
    private final Map<String, AtomicInteger> runTransitions = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> byType = new ConcurrentHashMap<>();

    WebhookReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "soak-webhooks");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/hook", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                byte[] body = in.readAllBytes();
                String id = exchange.getRequestHeaders().getFirst("webhook-id");
                boolean first = byId.computeIfAbsent(id == null ? "none" : id, k -> new AtomicInteger())
                        .incrementAndGet() == 1;
                if (first) {
                    note(Api.JSON.readTree(body));
                }
                exchange.sendResponseHeaders(204, -1);
            } catch (RuntimeException e) {
                exchange.sendResponseHeaders(500, -1);
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    private void note(JsonNode event) {
        String type = event.path("type").asString();
        byType.computeIfAbsent(type, k -> new AtomicInteger()).incrementAndGet();
        JsonNode data = event.path("data");
        if (type.equals("incident.opened")) {
            incidentsOpened.add(data.path("incidentId").asLong());
        } else if (type.equals("run.state_changed")) {
            runTransitions.computeIfAbsent(transition(data.path("fromState").asString(), data.path("toState").asString(),
                    data.path("generation").asLong()), k -> new AtomicInteger()).incrementAndGet();
        }
    }

    static String transition(String from, String to, long generation) {
        return from + "->" + to + "@" + generation;
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook";
    }

    /** webhook-ids received more than once. */
    Map<String, Integer> duplicates() {
        Map<String, Integer> out = new java.util.TreeMap<>();
        byId.forEach((id, n) -> {
            if (n.get() > 1) {
                out.put(id, n.get());
            }
        });
        return out;
    }

    int received() {
        return byId.size();
    }

    Set<Long> incidentsOpened() {
        return Set.copyOf(incidentsOpened);
    }

    int transitionsReceived(String key) {
        AtomicInteger n = runTransitions.get(key);
        return n == null ? 0 : n.get();
    }

    Map<String, Integer> byType() {
        Map<String, Integer> out = new java.util.TreeMap<>();
        byType.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
