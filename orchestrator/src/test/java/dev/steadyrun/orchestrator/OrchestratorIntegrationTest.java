package dev.steadyrun.orchestrator;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.ActiveProfiles;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * Base of every integration test of the orchestrator: one shared Spring context (keep the same annotations and
 * add no {@code @MockitoBean} or properties in subclasses, or the context is rebuilt), the real PostgreSQL
 * database {@code steadyrun_test} (wiped at context start), real HTTP on a random port, and a
 * {@link MutableClock} to advance instead of sleeping.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ActiveProfiles("test")
@Import(TestSupportConfig.class)
public abstract class OrchestratorIntegrationTest {

    public static final String JOIN_TOKEN = "test-join-token-0123456789";
    public static final String ADMIN_TOKEN = "test-admin-token-0123456789";

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @LocalServerPort
    protected int port;
    /** The actuator's own port (metrics); random in tests. */
    @LocalManagementPort
    protected int managementPort;
    @Autowired
    protected MutableClock clock;
    @Autowired
    protected JdbcTemplate jdbc;
    @Autowired
    protected ObjectMapper json;

    /** A response with its body parsed when it is JSON (a missing node otherwise; the text is in {@code raw}). */
    public record Reply(int status, JsonNode body, HttpResponse<String> raw) {
    }

    protected Reply call(String method, String path, String token, Object body) {
        String text = body == null ? null : body instanceof String s ? s : json.writeValueAsString(body);
        return send(method, path, token, text);
    }

    protected Reply send(String method, String path, String token, String body) {
        return send(method, path, token, body, "application/json");
    }

    protected Reply send(String method, String path, String token, String body, String contentType) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", contentType);
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            boolean isJson = r.headers().firstValue("Content-Type").orElse("").contains("json");
            JsonNode parsed = isJson && !r.body().isBlank() ? json.readTree(r.body()) : json.missingNode();
            return new Reply(r.statusCode(), parsed, r);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The Prometheus scrape, from the management port. */
    protected String prometheus() {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + managementPort + "/actuator/prometheus")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("/actuator/prometheus answered " + r.statusCode());
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** One sample line of a scrape: the name, the labels in braces (if any), the value. */
    public static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)",
            Pattern.MULTILINE);

    /** The value of the one sample of {@code name} in {@code scrape} whose labels contain {@code label}. */
    public static double sample(String scrape, String name, String label) {
        List<Double> found = new ArrayList<>();
        Matcher m = SAMPLE.matcher(scrape);
        while (m.find()) {
            if (m.group(1).equals(name) && m.group(2) != null && m.group(2).contains(label)) {
                found.add(Double.parseDouble(m.group(3)));
            }
        }
        if (found.size() != 1) {
            throw new AssertionError(found.size() + " samples of " + name + " with " + label + " in the scrape");
        }
        return found.get(0);
    }

    /** Registers a node with one GPU and the given labels; returns the agent's answer. */
    protected RegisterResponse register(String name, Map<String, String> labels) {
        return register(name, labels, List.of());
    }

    /** As {@link #register(String, Map)}, advertising {@code programs} installed on the node. */
    protected RegisterResponse register(String name, Map<String, String> labels, List<ProgramRef> programs) {
        Reply r = call("POST", "/api/v1/agents/register", JOIN_TOKEN, new RegisterRequest(name, name + ".local",
                List.of(new GpuInfo(0, "GPU-" + name, "NVIDIA H100", 81559)), labels, "test").withPrograms(programs));
        if (r.status() != 200) {
            throw new IllegalStateException("register " + name + ": " + r.status() + " " + r.body());
        }
        return json.treeToValue(r.body(), RegisterResponse.class);
    }

    /** One heartbeat with a healthy GPU (or the given GPU health) and the given trainer status. */
    protected Reply heartbeat(RegisterResponse node, long sequence, TrainerStatus trainer, GpuHealth... gpus) {
        List<GpuHealth> health = gpus.length > 0 ? List.of(gpus)
                : List.of(new GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(), 0));
        return call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                new HeartbeatRequest(sequence, health, trainer));
    }

    protected long count(String table) {
        Long n = jdbc.queryForObject("select count(*) from " + table, Long.class);
        return n == null ? 0 : n;
    }
}
