package dev.steadyrun.orchestrator.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.protocol.RegisterResponse;
import tools.jackson.databind.JsonNode;

/** Bad input gets an RFC 9457 problem detail with the right status, names the field, and persists nothing. */
class BadInputTest extends OrchestratorIntegrationTest {

    static final String REGISTER = "/api/v1/agents/register";

    void assertProblem(Reply r, int status) {
        assertThat(r.status()).as(r.body().toString()).isEqualTo(status);
        assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                ct -> assertThat(ct).startsWith("application/problem+json"));
        assertThat(r.body().path("status").asInt()).isEqualTo(status);
        assertThat(r.body().path("title").asString()).isNotBlank();
    }

    /** Runs the call and checks that no node, label, event or token row appeared. */
    Reply persistsNothing(Supplier<Reply> call) {
        long nodes = count("node");
        long events = count("node_event");
        long labels = count("node_label");
        long tokens = count("api_token");
        Reply r = call.get();
        assertThat(List.of(count("node"), count("node_event"), count("node_label"), count("api_token")))
                .isEqualTo(List.of(nodes, events, labels, tokens));
        return r;
    }

    String registerJson(String extra) {
        return "{\"nodeName\":\"bad-input\",\"hostname\":\"h\",\"gpus\":[],\"labels\":{},\"agentVersion\":\"1\""
                + extra + "}";
    }

    @Test
    void malformedJson() {
        Reply r = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN, "{\"nodeName\": \"x\", "));
        assertProblem(r, 400);
        assertThat(r.body().path("detail").asString()).startsWith("malformed JSON");
    }

    @Test
    void unknownFieldIsNamed() {
        Reply r = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN, registerJson(",\"colour\":\"red\"")));
        assertProblem(r, 400);
        assertThat(r.body().path("field").asString()).isEqualTo("colour");
        assertThat(r.body().path("errors").get(0).path("field").asString()).isEqualTo("colour");
    }

    @Test
    void wrongTypeNamesTheNestedField() {
        Reply r = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN, "{\"nodeName\":\"bad-input\","
                + "\"hostname\":\"h\",\"gpus\":[{\"index\":\"zero\",\"uuid\":\"u\",\"model\":\"m\",\"memoryMiB\":1}],"
                + "\"labels\":{},\"agentVersion\":\"1\"}"));
        assertProblem(r, 400);
        assertThat(r.body().path("field").asString()).isEqualTo("gpus[0].index");
    }

    @Test
    void missingRequiredFieldIsNamed() {
        Reply r = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN,
                "{\"hostname\":\"h\",\"gpus\":[],\"labels\":{},\"agentVersion\":\"1\"}"));
        assertProblem(r, 400);
        assertThat(r.body().path("field").asString()).isEqualTo("nodeName");

        Reply badLabel = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN,
                "{\"nodeName\":\"bad-input\",\"hostname\":\"h\",\"gpus\":[],\"labels\":{\"bad key!\":\"v\"}}"));
        assertProblem(badLabel, 400);
        assertThat(badLabel.body().path("field").asString()).isEqualTo("labels.bad key!");
    }

    @Test
    void heartbeatWithoutTrainerIsRefusedAndDoesNotRenewTheLease() {
        RegisterResponse node = register("bad-input-beat", Map.of());
        Reply r = call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                "{\"sequence\":1,\"gpus\":[]}");
        assertProblem(r, 400);
        assertThat(r.body().path("field").asString()).isEqualTo("trainer");
        JsonNode detail = call("GET", "/api/v1/nodes/" + node.nodeId(), ADMIN_TOKEN, null).body();
        assertThat(detail.path("node").path("state").asString()).isEqualTo("REGISTERED");
        assertThat(detail.path("node").path("lastSeenAt").isNull()).isTrue();
    }

    @Test
    void missingOrWrongTokensAre401() {
        assertProblem(persistsNothing(() -> send("POST", REGISTER, null, registerJson(""))), 401);
        assertProblem(persistsNothing(() -> send("POST", REGISTER, "not-the-join-token", registerJson(""))), 401);
        assertProblem(call("GET", "/api/v1/nodes", null, null), 401);
        Reply wrong = call("GET", "/api/v1/nodes", "srt_wrong", null);
        assertProblem(wrong, 401);
        assertThat(wrong.raw().headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        // The join token is not an operator token, and a node credential is not another node's.
        assertProblem(call("GET", "/api/v1/nodes", JOIN_TOKEN, null), 401);
        RegisterResponse a = register("bad-input-a", Map.of());
        RegisterResponse b = register("bad-input-b", Map.of());
        assertProblem(call("POST", "/api/v1/agents/" + a.nodeId() + "/heartbeat", b.nodeCredential(),
                "{\"sequence\":1,\"gpus\":[],\"trainer\":{\"state\":\"IDLE\",\"rank\":-1,\"generation\":0,"
                        + "\"lastStep\":-1}}"), 401);
    }

    @Test
    void wrongRoleIs403() {
        Reply created = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "viewer-403", "role", "VIEWER"));
        assertThat(created.status()).isEqualTo(201);
        String viewer = created.body().path("secret").asString();
        RegisterResponse node = register("bad-input-role", Map.of());
        assertThat(call("GET", "/api/v1/nodes/" + node.nodeId(), viewer, null).status()).isEqualTo(200);
        long events = count("node_event");
        Reply cordon = call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", viewer, null);
        assertProblem(cordon, 403);
        assertThat(cordon.body().path("detail").asString()).contains("needs role OPERATOR");
        assertThat(count("node_event")).isEqualTo(events);
        assertProblem(persistsNothing(() -> call("POST", "/api/v1/tokens", viewer,
                Map.of("name", "escalate", "role", "ADMIN"))), 403);
    }

    @Test
    void oversizedPayloadIs413() {
        String big = registerJson(",\"padding\":\"" + "x".repeat(1_100_000) + "\"");
        Reply r = persistsNothing(() -> send("POST", REGISTER, JOIN_TOKEN, big));
        assertProblem(r, 413);
    }

    @Test
    void unknownNodeIs404() {
        String id = "00000000-0000-0000-0000-000000000001";
        assertProblem(call("GET", "/api/v1/nodes/" + id, ADMIN_TOKEN, null), 404);
        assertProblem(call("GET", "/api/v1/nodes/" + id + "/events", ADMIN_TOKEN, null), 404);
        assertProblem(persistsNothing(() -> call("POST", "/api/v1/nodes/" + id + "/cordon", ADMIN_TOKEN, null)),
                404);
        // an agent endpoint checks the credential first: an unknown node answers like a wrong credential (401)
        assertProblem(call("POST", "/api/v1/agents/" + id + "/heartbeat", "srn_x", "{}"), 401);
        assertProblem(call("GET", "/api/v1/no-such-thing", ADMIN_TOKEN, null), 404);
    }

    @Test
    void badParametersAreNamed() {
        Reply badId = call("GET", "/api/v1/nodes/not-a-uuid", ADMIN_TOKEN, null);
        assertProblem(badId, 400);
        assertThat(badId.body().path("field").asString()).isEqualTo("id");
        Reply badState = call("GET", "/api/v1/nodes?state=ASLEEP", ADMIN_TOKEN, null);
        assertProblem(badState, 400);
        assertThat(badState.body().path("field").asString()).isEqualTo("state");
        Reply badSize = call("GET", "/api/v1/nodes?size=100000", ADMIN_TOKEN, null);
        assertProblem(badSize, 400);
        assertThat(badSize.body().path("field").asString()).isEqualTo("size");
    }
}
