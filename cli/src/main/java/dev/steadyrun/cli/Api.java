package dev.steadyrun.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The orchestrator's REST API as the CLI uses it: JSON in, JSON out, a problem detail on error. */
final class Api {

    static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final URI base;
    private final String token;
    private final HttpClient http;

    Api(URI base, String token) {
        this.base = base;
        this.token = token;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    URI base() {
        return base;
    }

    /** A refusal by the API: its status and the RFC 9457 problem detail (a missing node when there was none). */
    static final class Failure extends RuntimeException {
        final int status;
        final JsonNode problem;

        Failure(int status, JsonNode problem, String message) {
            super(message);
            this.status = status;
            this.problem = problem;
        }
    }

    /** Nothing answered at the URL: refused, timed out, unknown host. */
    static final class Unreachable extends RuntimeException {
        Unreachable(URI url, Exception cause) {
            super("cannot reach " + url + ": " + (cause.getMessage() != null ? cause.getMessage()
                    : cause.getClass().getSimpleName()), cause);
        }
    }

    JsonNode get(String path, Map<String, ?> query) {
        return send("GET", withQuery(path, query), null, null);
    }

    JsonNode get(String path) {
        return get(path, Map.of());
    }

    /** POSTs a JSON body (none when null). */
    JsonNode post(String path, JsonNode body) {
        return send("POST", path, body == null ? null : JSON.writeValueAsString(body), "application/json");
    }

    JsonNode post(String path, String body, String contentType) {
        return send("POST", path, body, contentType);
    }

    JsonNode delete(String path) {
        return send("DELETE", path, null, null);
    }

    /** One server-sent event: its name ({@code message} when unnamed) and its data. */
    record Event(String name, String data) {
    }

    /**
     * GETs a {@code text/event-stream} and hands each event to {@code onEvent} until the server ends the stream or
     * {@code onEvent} answers false. No timeout once the stream is open: a follower may wait long for a line.
     */
    void stream(String path, Map<String, ?> query, java.util.function.Predicate<Event> onEvent) {
        URI url = URI.create(base + withQuery(path, query));
        HttpRequest.Builder request = HttpRequest.newBuilder(url)
                .header("Accept", "text/event-stream, application/problem+json");
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpResponse<java.util.stream.Stream<String>> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofLines());
        } catch (IOException e) {
            throw new Unreachable(url, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unreachable(url, e);
        }
        try (java.util.stream.Stream<String> lines = response.body()) {
            if (response.statusCode() / 100 != 2) {
                String body = String.join("\n", (Iterable<String>) lines::iterator);
                JsonNode problem;
                try {
                    problem = JSON.readTree(body);
                } catch (JacksonException e) {
                    problem = JSON.missingNode();
                }
                throw new Failure(response.statusCode(), problem, "GET " + path + ": HTTP " + response.statusCode());
            }
            String name = "message";
            StringBuilder data = new StringBuilder();
            java.util.Iterator<String> it = lines.iterator();
            while (it.hasNext()) {
                String line = it.next();
                if (line.isEmpty()) {
                    if (data.length() > 0 && !onEvent.test(new Event(name, data.toString()))) {
                        return;
                    }
                    name = "message";
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    name = line.substring(6).strip();
                } else if (line.startsWith("data:")) {
                    data.append(data.length() > 0 ? "\n" : "").append(line.substring(5).stripLeading());
                } // comments (keepalives) and ids: nothing to do
            }
        } catch (java.io.UncheckedIOException e) {
            throw new Unreachable(url, e);
        }
    }

    private JsonNode send(String method, String path, String body, String contentType) {
        URI url = URI.create(base + path);
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(TIMEOUT)
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", contentType);
        }
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new Unreachable(url, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unreachable(url, e);
        }
        JsonNode parsed = parse(response);
        if (response.statusCode() / 100 != 2) {
            throw new Failure(response.statusCode(), parsed, method + " " + path + ": HTTP " + response.statusCode());
        }
        return parsed;
    }

    private static JsonNode parse(HttpResponse<String> response) {
        boolean json = response.headers().firstValue("Content-Type").orElse("").contains("json");
        if (!json || response.body().isBlank()) {
            return JSON.missingNode();
        }
        try {
            return JSON.readTree(response.body());
        } catch (JacksonException e) {
            return JSON.missingNode();
        }
    }

    private static String withQuery(String path, Map<String, ?> query) {
        StringJoiner q = new StringJoiner("&", "?", "").setEmptyValue("");
        query.forEach((key, value) -> {
            if (value != null) {
                q.add(key + "=" + URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8));
            }
        });
        return path + q;
    }

    /** Query parameters in order; a null value leaves its parameter out. */
    static Map<String, Object> query(Object... keysAndValues) {
        Map<String, Object> query = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            query.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return query;
    }
}
