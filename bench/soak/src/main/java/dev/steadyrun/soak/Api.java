package dev.steadyrun.soak;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * TEST TOOL — the soak's HTTP: one {@link HttpClient} on a small executor, every call asynchronous, so a thousand
 * simulated agents cost no thread each. Agent calls carry the node credential, operator calls the admin token.
 */
final class Api {

    static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    private final HttpClient http;
    private final String base;
    private final String adminToken;

    Api(String base, String adminToken, Executor executor) {
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(executor)
                .connectTimeout(Duration.ofSeconds(10)).build();
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        this.adminToken = adminToken;
    }

    CompletableFuture<HttpResponse<String>> post(String path, String token, Object body) {
        return post(path, token, body, Duration.ofSeconds(30));
    }

    private CompletableFuture<HttpResponse<String>> post(String path, String token, Object body, Duration timeout) {
        String json = body instanceof String s ? s : JSON.writeValueAsString(body);
        return http.sendAsync(HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    CompletableFuture<HttpResponse<String>> adminPost(String path, Object body) {
        // an operator's call may wait behind a loaded orchestrator's agents: longer than an agent's
        return post(path, adminToken, body == null ? "{}" : body, Duration.ofSeconds(180));
    }

    CompletableFuture<HttpResponse<String>> adminGet(String path) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(180))
                .header("Authorization", "Bearer " + adminToken).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A GET whose answer must be 200, read as a tree; blocking (for the harness's own thread only). */
    JsonNode getTree(String path) {
        HttpResponse<String> r;
        try {
            r = adminGet(path).join();
        } catch (RuntimeException e) {
            r = adminGet(path).join(); // once more: a loaded machine times out now and then
        }
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** A POST whose answer must be 2xx, read as a tree; blocking (for the harness's own thread only). */
    JsonNode postTree(String path, Object body) {
        HttpResponse<String> r = adminPost(path, body).join();
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("POST " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    }
}
