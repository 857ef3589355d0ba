package dev.steadyrun.orchestrator.alert;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.IntFunction;

import com.sun.net.httpserver.HttpServer;

/**
 * A real HTTP receiver for webhook tests (the web UI's too) on 127.0.0.1: records every request and answers what {@code behaviour}
 * says for the n-th request (0-based). It can be stopped (port closed) and started again on the same port.
 */
public final class WebhookReceiver implements AutoCloseable {

    /** One answer: status, how long to wait before it (to provoke timeouts), and a body (may be empty). */
    public record Answer(int status, long delayMillis, String body) {
        Answer(int status, long delayMillis) {
            this(status, delayMillis, "");
        }

        public static Answer status(int status) {
            return new Answer(status, 0);
        }
    }

    public record Received(Map<String, String> headers, String body) {
        public String header(String name) {
            return headers.get(name.toLowerCase());
        }
    }

    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final IntFunction<Answer> behaviour;
    private final int port;
    private HttpServer server;
    private ExecutorService executor;

    public WebhookReceiver(IntFunction<Answer> behaviour) {
        this.behaviour = behaviour;
        start(0);
        this.port = server.getAddress().getPort();
    }

    private void start(int onPort) {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), onPort), 16);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        executor = Executors.newFixedThreadPool(4);
        server.setExecutor(executor);
        server.createContext("/hook", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            Map<String, String> headers = new HashMap<>();
            exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), v.get(0)));
            int n;
            synchronized (received) {
                n = received.size();
                received.add(new Received(headers, new String(body, StandardCharsets.UTF_8)));
            }
            Answer answer = behaviour.apply(n);
            try {
                Thread.sleep(answer.delayMillis());
                byte[] answerBody = answer.body().getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(answer.status(), answerBody.length == 0 ? -1 : answerBody.length);
                if (answerBody.length > 0) {
                    exchange.getResponseBody().write(answerBody);
                }
            } catch (InterruptedException | IOException e) {
                // the sender gave up (timeout): nothing to answer
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + port + "/hook";
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    /** Closes the port: senders get "connection refused". */
    void stop() {
        server.stop(0);
        executor.shutdownNow();
    }

    void restart() {
        start(port);
    }

    @Override
    public void close() {
        stop();
    }
}
