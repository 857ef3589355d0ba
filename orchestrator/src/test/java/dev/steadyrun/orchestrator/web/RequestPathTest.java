package dev.steadyrun.orchestrator.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * A path spelled another way (percent-encoded letters, matrix parameters, encoded '/' or NUL) is refused with a
 * problem detail before anything else happens, so it can neither move a call to another kind of authentication
 * nor dodge the body limit. Requests go over a raw socket so that nothing normalizes the path on the way.
 */
class RequestPathTest extends OrchestratorIntegrationTest {

    record Raw(int status, String contentType, String body) {
    }

    Raw raw(String method, String path, String token, String body) {
        byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        String head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
                + (body == null ? "" : "Content-Type: application/json\r\n")
                + "Content-Length: " + content.length + "\r\n\r\n";
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            try {
                out.write(content);
                out.flush();
            } catch (IOException refusedEarly) {
                // the server may answer and close before reading a large body
            }
            InputStream in = s.getInputStream();
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            String headers = text.substring(0, end);
            int status = Integer.parseInt(headers.substring(9, 12));
            String type = headers.lines().filter(l -> l.toLowerCase().startsWith("content-type:"))
                    .map(l -> l.substring(13).trim()).findFirst().orElse("");
            return new Raw(status, type, text.substring(end + 4));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    void assertBadRequestProblem(Raw r) {
        assertThat(r.status()).as(r.body()).isEqualTo(400);
        assertThat(r.contentType()).startsWith("application/problem+json");
        JsonNode body = json.readTree(r.body().substring(r.body().indexOf('{'), r.body().lastIndexOf('}') + 1));
        assertThat(body.path("status").asInt()).isEqualTo(400);
        assertThat(body.path("detail").asString()).isNotBlank();
    }

    String registerJson(String name) {
        return "{\"nodeName\":\"" + name + "\",\"hostname\":\"" + name + ".local\",\"gpus\":[],\"labels\":{},"
                + "\"agentVersion\":\"test\"}";
    }

    @Test
    void encodedAgentPathCannotRegisterWithAnOperatorToken() {
        long nodes = count("node");
        Raw r = raw("POST", "/api/v1/%61gents/register", ADMIN_TOKEN, registerJson("path-trick-1"));
        assertBadRequestProblem(r);
        assertThat(r.body()).doesNotContain("nodeCredential");
        assertThat(count("node")).isEqualTo(nodes);
    }

    @Test
    void matrixParameterAgentPathCannotHeartbeatWithAnOperatorToken() {
        RegisterResponse node = register("path-trick-2", Map.of());
        String beat = json.writeValueAsString(new HeartbeatRequest(1,
                List.of(new GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(79), 0)), TrainerStatus.idle()));
        assertBadRequestProblem(raw("POST", "/api/v1/agents;x/" + node.nodeId() + "/heartbeat", ADMIN_TOKEN, beat));
        assertBadRequestProblem(raw("POST", "/api/v1/agents/" + node.nodeId() + ";x/heartbeat", ADMIN_TOKEN, beat));
        // the plain spelling still needs the node's own credential, whatever the operator token's role
        assertThat(raw("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", ADMIN_TOKEN, beat).status())
                .isEqualTo(401);
    }

    @Test
    void encodedSlashNulAndUnreservedCharactersGetAProblemDetail() {
        for (String path : List.of("/api/v1/nodes%2Fx", "/api/v1/nodes%2fx", "/api/v1/nodes/%00", "/api/v1/%6Eodes",
                "/api/v1/nodes/a%5Cb", "/api/v1/nodes;jsessionid=1", "/api/v1/nodes/%zz", "/%61pi/v1/nodes")) {
            Raw r = raw("GET", path, ADMIN_TOKEN, null);
            assertThat(r.contentType()).as(path).startsWith("application/problem+json");
            assertBadRequestProblem(r);
        }
        // encoded characters that must be encoded are still fine
        assertThat(raw("GET", "/api/v1/runs/not%20a%20run", ADMIN_TOKEN, null).status()).isIn(400, 404);
    }

    @Test
    void bodyLimitAppliesWhateverThePath() {
        String big = "{\"x\":\"" + "a".repeat(2 * 1024 * 1024) + "\"}";
        for (String path : List.of("/%61pi/v1/runs", "/not-the-api", "/api/v1/runs")) {
            Raw r = raw("POST", path, ADMIN_TOKEN, big);
            assertThat(r.status()).as(path).isIn(400, 413);
            assertThat(r.contentType()).as(path).startsWith("application/problem+json");
        }
        assertThat(raw("POST", "/not-the-api", null, big).status()).isEqualTo(413);
    }
}
