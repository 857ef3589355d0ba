package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** The receiver-facing safety limits, against a real local HTTP server. */
class WebhookClientTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final AtomicInteger targetHits = new AtomicInteger();
    private final AtomicReference<String> targetHost = new AtomicReference<>();
    private HttpServer server;
    private WebhookClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        server.setExecutor(Executors.newFixedThreadPool(2));
        server.createContext("/redirect", ex -> {
            ex.getRequestBody().readAllBytes();
            ex.getResponseHeaders().set("Location", base() + "/target");
            ex.sendResponseHeaders(302, -1);
            ex.close();
        });
        server.createContext("/target", ex -> {
            targetHits.incrementAndGet();
            targetHost.set(ex.getRequestHeaders().getFirst("Host"));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.createContext("/endless", ex -> {
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, 0); // chunked, never finishes on its own
            byte[] chunk = new byte[8192];
            try (OutputStream out = ex.getResponseBody()) {
                while (true) {
                    out.write(chunk);
                    out.flush();
                }
            } catch (IOException e) {
                // the client hung up once it had read enough
            }
        });
        server.start();
        client = new WebhookClient(AlertTestProperties.with(List.of(), List.of(),
                DataSize.ofKilobytes(16)));
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Test
    void redirectsAreNotFollowed() {
        WebhookClient.Result r = client.post(URI.create(base() + "/redirect"), LOOPBACK, Map.of(), "{}");
        assertThat(r.status()).isEqualTo(302);
        assertThat(r.delivered()).isFalse();
        assertThat(targetHits).hasValue(0);
    }

    @Test
    void readsAtMostTheResponseLimitAndDoesNotWaitForTheRest() {
        WebhookClient.Result r = client.post(URI.create(base() + "/endless"), LOOPBACK, Map.of(), "{}");
        assertThat(r.error()).isNull();
        assertThat(r.delivered()).isTrue();
        assertThat(r.bodyPrefix()).hasSize(16 * 1024);
    }

    @Test
    void refusedConnectionIsAnErrorNotAnException() throws IOException {
        int port;
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        WebhookClient.Result r = client.post(URI.create("http://127.0.0.1:" + port + "/x"), LOOPBACK, Map.of(),
                "{}");
        assertThat(r.status()).isNull();
        assertThat(r.error()).contains("ConnectException");
    }

    @Test
    void connectsToTheCheckedAddressWithTheUrlsHost() {
        // .invalid never resolves (RFC 6761): the request can only arrive through the address handed over, which is
        // the one the destination check passed; the receiver still sees the URL's host
        int port = server.getAddress().getPort();
        WebhookClient.Result r = client.post(URI.create("http://hooks.invalid:" + port + "/target?k=v"), LOOPBACK,
                Map.of("Content-Type", "application/json"), "{}");
        assertThat(r.error()).isNull();
        assertThat(r.status()).isEqualTo(200);
        assertThat(targetHost).hasValue("hooks.invalid:" + port);
    }
}
