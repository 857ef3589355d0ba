package dev.steadyrun.agent.lease;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;

import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The agent's side of the agent API. One instance (and one {@link HttpClient}) may serve many agents: the
 * simulated fleet shares it between all its nodes.
 *
 * <p>Given several base URLs (the replicas of an active/standby pair), it keeps calling the one that answered last;
 * a call that gets no answer, or 503 from a standby that does not hold the database lock, is tried once on each of
 * the others before it fails. A standby serves nothing, so the call reaches at most one orchestrator that acts on
 * it, as with the retries the lease loop already makes after a call that got no answer.
 */
public final class OrchestratorClient {

    /** A call that did not succeed: {@code status} is the HTTP status, or 0 when no answer came. */
    public static final class CallException extends Exception {
        private final int status;

        CallException(int status, String message, Throwable cause) {
            super(message, cause);
            this.status = status;
        }

        /** The credential is unknown or revoked: register again. */
        public boolean unauthorized() {
            return status == 401;
        }

        /** Registration refused: the node name belongs to a node whose credential this agent does not hold. */
        public boolean forbidden() {
            return status == 403;
        }

        /** The generation is fenced: stop the trainer that sent it. */
        public boolean conflict() {
            return status == 409;
        }

        /** No answer, or the orchestrator failed: worth retrying with backoff. */
        public boolean transientFailure() {
            return status == 0 || status >= 500 || status == 429;
        }
    }

    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private final List<URI> bases;
    private final HttpClient http;
    private final Duration timeout;
    /** The index of the base that answered last. */
    private final AtomicInteger current = new AtomicInteger();

    public OrchestratorClient(List<URI> bases, HttpClient http, Duration timeout) {
        if (bases.isEmpty()) {
            throw new IllegalArgumentException("no orchestrator URL");
        }
        this.bases = List.copyOf(bases);
        this.http = http;
        this.timeout = timeout;
    }

    public OrchestratorClient(URI base, HttpClient http, Duration timeout) {
        this(List.of(base), http, timeout);
    }

    /**
     * @param caFile PEM certificates to trust for {@code https://} instead of the JVM's default trust store (a
     *               cluster's own CA); null = the default
     */
    public static HttpClient newHttpClient(Duration connectTimeout, Path caFile) {
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(connectTimeout)
                .version(HttpClient.Version.HTTP_1_1);
        if (caFile != null) {
            builder.sslContext(trusting(caFile));
        }
        return builder.build();
    }

    /**
     * A TLS context that trusts exactly the certificates in a PEM file (host names are still verified).
     *
     * @throws IllegalArgumentException when the file cannot be read or holds no certificate
     */
    public static SSLContext trusting(Path caFile) {
        Collection<? extends Certificate> certificates;
        try (InputStream in = Files.newInputStream(caFile)) {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + caFile + ": " + e.getMessage());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("no PEM certificate in " + caFile + ": " + e.getMessage());
        }
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("no PEM certificate in " + caFile);
        }
        try {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            int i = 0;
            for (Certificate certificate : certificates) {
                trusted.setCertificateEntry("ca-" + i++, certificate);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trusted);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS context from " + caFile, e);
        }
    }

    public RegisterResponse register(String joinToken, RegisterRequest request) throws CallException {
        return call("/api/v1/agents/register", joinToken, request, RegisterResponse.class);
    }

    public HeartbeatResponse heartbeat(UUID nodeId, String credential, HeartbeatRequest request)
            throws CallException {
        return call("/api/v1/agents/" + nodeId + "/heartbeat", credential, request, HeartbeatResponse.class);
    }

    public void report(UUID nodeId, String credential, TrainerReport report) throws CallException {
        call("/api/v1/agents/" + nodeId + "/reports", credential, report, null);
    }

    public void logs(UUID nodeId, String credential, TrainerLogBatch batch) throws CallException {
        call("/api/v1/agents/" + nodeId + "/logs", credential, batch, null);
    }

    private <T> T call(String path, String bearer, Object body, Class<T> answer) throws CallException {
        int first = current.get();
        CallException failure = null;
        for (int i = 0; i < bases.size(); i++) {
            int index = (first + i) % bases.size();
            try {
                T result = callOnce(bases.get(index), path, bearer, body, answer);
                current.compareAndSet(first, index);
                return result;
            } catch (CallException e) {
                if (e.status != 0 && e.status != 503) { // only no answer, or a standby's refusal
                    throw e;
                }
                failure = e;
            }
        }
        throw failure;
    }

    private <T> T callOnce(URI base, String path, String bearer, Object body, Class<T> answer)
            throws CallException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, application/problem+json")
                .header("Authorization", "Bearer " + bearer)
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
                .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (SSLHandshakeException e) {
            // what an operator must fix, not a network fault: say so (retried all the same: the orchestrator's
            // certificate may be re-issued meanwhile)
            throw new CallException(0, "POST " + base + path + ": no answer: TLS handshake failed: the orchestrator's "
                    + "certificate is not trusted (ca-file, --ca-file or STEADYRUN_CA_FILE, must hold the CA that "
                    + "issued it) or not issued for this host: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CallException(0, "POST " + base + path + ": no answer: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CallException(0, "POST " + path + ": interrupted", e);
        }
        int status = response.statusCode();
        if (status / 100 != 2) {
            throw new CallException(status, "POST " + base + path + " → " + status
                    + problemDetail(response.body()), null);
        }
        if (answer == null) {
            return null;
        }
        try {
            return JSON.readValue(response.body(), answer);
        } catch (JacksonException e) {
            throw new CallException(status, "POST " + path + ": unreadable answer: " + e.getOriginalMessage(), e);
        }
    }

    /** The RFC 9457 title and detail, so a refusal says why. */
    private static String problemDetail(String body) {
        if (body == null || body.isBlank()) {
            return "";
        }
        try {
            JsonNode node = JSON.readTree(body);
            String title = node.path("title").asString("");
            String detail = node.path("detail").asString("");
            return (title.isEmpty() && detail.isEmpty()) ? "" : " " + title + (detail.isEmpty() ? "" : ": " + detail);
        } catch (JacksonException e) {
            return " " + (body.length() > 200 ? body.substring(0, 200) : body);
        }
    }
}
