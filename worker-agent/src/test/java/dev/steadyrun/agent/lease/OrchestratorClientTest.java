package dev.steadyrun.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import com.sun.net.httpserver.HttpServer;
import dev.steadyrun.protocol.TrainerReport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The agent's failover between the replicas of an active/standby orchestrator pair, over real HTTP. */
class OrchestratorClientTest {

    private final List<HttpServer> servers = new ArrayList<>();
    private final List<String> calls = new CopyOnWriteArrayList<>();

    /** A server that answers every agent call with {@code status}; its name is recorded per call. */
    private URI replica(String name, int status) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 10);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            calls.add(name);
            byte[] body = status == 503
                    ? "{\"title\":\"Standby\",\"detail\":\"not the active orchestrator\"}".getBytes(StandardCharsets.UTF_8)
                    : new byte[0];
            exchange.getResponseHeaders().add("Content-Type", "application/problem+json");
            exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        servers.add(server);
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private static URI nobodyListening() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return URI.create("http://127.0.0.1:" + s.getLocalPort());
        }
    }

    private static OrchestratorClient client(List<URI> urls) {
        Duration t = Duration.ofSeconds(2);
        return new OrchestratorClient(urls, OrchestratorClient.newHttpClient(t, null), t);
    }

    private static void report(OrchestratorClient client) throws OrchestratorClient.CallException {
        client.report(UUID.randomUUID(), "cred", new TrainerReport(UUID.randomUUID(), 0, 1, List.of(), List.of()));
    }

    @AfterEach
    void stop() {
        servers.forEach(s -> s.stop(0));
    }

    @Test
    void aStandbyOrADeadReplicaIsSkippedAndTheActiveOneIsKept() throws Exception {
        OrchestratorClient client = client(List.of(nobodyListening(), replica("standby", 503), replica("active", 204)));

        report(client);
        assertThat(calls).containsExactly("standby", "active");

        calls.clear();
        report(client);
        assertThat(calls).as("the replica that answered is called first next time").containsExactly("active");
    }

    @Test
    void aRefusalIsNotRetriedElsewhere() throws Exception {
        OrchestratorClient client = client(List.of(replica("a", 401), replica("b", 204)));
        assertThatThrownBy(() -> report(client))
                .isInstanceOfSatisfying(OrchestratorClient.CallException.class,
                        e -> assertThat(e.unauthorized()).isTrue());
        assertThat(calls).containsExactly("a");
    }

    @Test
    void whenNoReplicaServesTheCallFailsAsTransient() throws Exception {
        OrchestratorClient client = client(List.of(replica("a", 503), nobodyListening()));
        assertThatThrownBy(() -> report(client))
                .isInstanceOfSatisfying(OrchestratorClient.CallException.class,
                        e -> assertThat(e.transientFailure()).isTrue());
        assertThat(calls).containsExactly("a");
    }
}
