package dev.steadyrun.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.steadyrun.agent.AgentConfig;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code ca-file}: an orchestrator behind a certificate of the cluster's own CA (the chart's TLS option) is reached
 * over real HTTPS when the agent trusts that CA, and refused otherwise. Certificates are made by the JDK's keytool.
 */
class OrchestratorTlsTest {

    private static final String PASSWORD = "changeit";
    private static final UUID NODE = UUID.fromString("00000000-0000-0000-0000-00000000000a");

    // one set of certificates and one server for the class: each keytool run is a JVM start
    @TempDir
    static Path dir;
    private static HttpsServer server;
    private static URI url;

    @BeforeAll
    static void startHttpsOrchestrator() throws Exception {
        Path keystore = certificate("server", "ca.pem");
        certificate("other", "other.pem");
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            keys.load(in, PASSWORD.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, PASSWORD.toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        byte[] answer = JsonMapper.builder().build()
                .writeValueAsBytes(new RegisterResponse(NODE, "credential", LeaseTimings.DEFAULT));
        server.createContext("/api/v1/agents/register", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
        url = URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    @AfterAll
    static void stop() {
        server.stop(0);
    }

    @Test
    void registersOverHttpsTrustingTheClustersCa() throws Exception {
        OrchestratorClient client = client(dir.resolve("ca.pem"));

        RegisterResponse registered = client.register("join-token-0123456789", registration());

        assertThat(registered.nodeId()).isEqualTo(NODE);
    }

    @Test
    void withoutTheCaTheHandshakeIsRefused() {
        OrchestratorClient client = client(null);

        assertThatThrownBy(() -> client.register("join-token-0123456789", registration()))
                .isInstanceOfSatisfying(OrchestratorClient.CallException.class,
                        e -> assertThat(e.transientFailure()).isTrue())
                .hasMessageContaining("no answer").hasMessageContaining("TLS handshake failed")
                .hasMessageContaining("STEADYRUN_CA_FILE");
    }

    @Test
    void aDifferentCaIsNotTrusted() {
        OrchestratorClient client = client(dir.resolve("other.pem"));

        assertThatThrownBy(() -> client.register("join-token-0123456789", registration()))
                .isInstanceOf(OrchestratorClient.CallException.class).hasMessageContaining("no answer");
    }

    @Test
    void theSettingIsCheckedAtStartUp() throws Exception {
        Path notPem = Files.writeString(dir.resolve("not.pem"), "not a certificate", StandardCharsets.UTF_8);
        Map<String, String> base = Map.of("url", url.toString(), "join-token", "join-token-0123456789");

        AgentConfig config = AgentConfig.fromMap(with(base, "ca-file", dir.resolve("ca.pem").toString()));
        assertThat(config.caFile()).isEqualTo(dir.resolve("ca.pem"));
        assertThat(AgentConfig.fromMap(base).caFile()).isNull();
        assertThatThrownBy(() -> AgentConfig.fromMap(with(base, "ca-file", notPem.toString())))
                .hasMessageContaining("ca-file (--ca-file, STEADYRUN_CA_FILE): no PEM certificate in " + notPem);
        assertThatThrownBy(() -> AgentConfig.fromMap(with(base, "ca-file", dir.resolve("missing.pem").toString())))
                .hasMessageContaining("ca-file (--ca-file, STEADYRUN_CA_FILE): cannot read");
        Map<String, String> plain = with(with(base, "url", "http://127.0.0.1:8080"), "ca-file",
                dir.resolve("ca.pem").toString());
        assertThatThrownBy(() -> AgentConfig.fromMap(plain)).hasMessageContaining("only for https:// urls");
    }

    private OrchestratorClient client(Path caFile) {
        return new OrchestratorClient(url, OrchestratorClient.newHttpClient(Duration.ofSeconds(5), caFile),
                Duration.ofSeconds(5));
    }

    private static RegisterRequest registration() {
        return new RegisterRequest("node-a", "10.0.0.7", List.of(), Map.of("gpu", "none"), "t");
    }

    private static Map<String, String> with(Map<String, String> values, String key, String value) {
        Map<String, String> copy = new java.util.HashMap<>(values);
        copy.put(key, value);
        return copy;
    }

    /** A self-signed certificate for 127.0.0.1 (its own CA) in NAME.p12, exported as PEM to PEM_FILE. */
    private static Path certificate(String name, String pemFile) throws IOException, InterruptedException {
        Path keystore = dir.resolve(name + ".p12");
        keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=" + name, "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-rfc", "-alias", name, "-keystore", keystore.toString(), "-storepass", PASSWORD,
                "-file", dir.resolve(pemFile).toString());
        return keystore;
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }
}
