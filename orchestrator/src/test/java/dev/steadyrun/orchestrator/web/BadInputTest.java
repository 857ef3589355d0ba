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

    /** Refused with 400 naming {@code field}, in the caller's terms, and nothing stored anywhere it could go. */
    void refusedNaming(Supplier<Reply> call, String field) {
        long runs = count("run");
        long runEvents = count("run_event");
        long webhooks = count("webhook_subscription");
        long checkpoints = count("checkpoint");
        Reply r = persistsNothing(call);
        assertProblem(r, 400);
        assertThat(r.body().path("field").asString()).as(r.raw().body()).isEqualTo(field);
        assertThat(r.raw().body()).doesNotContain("java.", "dev.steadyrun", "`");
        assertThat(List.of(count("run"), count("run_event"), count("webhook_subscription"), count("checkpoint")))
                .isEqualTo(List.of(runs, runEvents, webhooks, checkpoints));
    }

    /**
     * A NUL character in free text reached PostgreSQL, which cannot store it: 500 for a run name, a restart or
     * cordon reason, a report's checkpoint path; 409 "registering concurrently" for a hostname. One guard on every
     * text the API reads (StrictInput) now answers 400 naming the field.
     */
    @Test
    void nulInAnyTextIsA400NamingTheField() {
        RegisterResponse node = register("bad-input-nul", Map.of());
        String nodeId = node.nodeId().toString();
        String runId = "00000000-0000-0000-0000-00000000000a";
        refusedNaming(() -> call("POST", "/api/v1/nodes/" + nodeId + "/cordon", ADMIN_TOKEN,
                Map.of("reason", "maintenance\u0000")), "reason");
        refusedNaming(() -> call("POST", "/api/v1/runs/" + runId + "/restart", ADMIN_TOKEN,
                Map.of("reason", "\u0000")), "reason");
        refusedNaming(() -> call("POST", "/api/v1/agents/" + nodeId + "/reports", node.nodeCredential(),
                Map.of("runId", runId, "rank", 0, "generation", 1, "steps", List.of(), "checkpoints",
                        List.of(Map.of("step", 1, "path", "/c/x\u0000/step-1", "manifestSha256", "ab",
                                "bytes", 1, "tokensSeen", 1, "lossScale", 1.0, "loss", 1.0)))),
                "checkpoints[0].path");
        refusedNaming(() -> send("POST", REGISTER, JOIN_TOKEN,
                registerJson("").replace("\"hostname\":\"h\"", "\"hostname\":\"h\\u0000\"")), "hostname");
        refusedNaming(() -> send("POST", REGISTER, JOIN_TOKEN,
                registerJson("").replace("\"labels\":{}", "\"labels\":{\"rack\":\"r\\u0000\"}")), "labels.rack");
        refusedNaming(() -> call("GET", "/api/v1/nodes?label=rack%3Dr%00", ADMIN_TOKEN, null), "label");
    }

    /** {@code "role": 2} created an ADMIN token; error details named java.lang.Integer and the Role class. */
    @Test
    void numbersAreNotRolesAndDetailsNameNoJavaTypes() {
        refusedNaming(() -> send("POST", "/api/v1/tokens", ADMIN_TOKEN, "{\"name\":\"by-number\",\"role\":2}"),
                "role");
        Reply unknownRole = send("POST", "/api/v1/tokens", ADMIN_TOKEN, "{\"name\":\"by-name\",\"role\":\"ROOT\"}");
        assertProblem(unknownRole, 400);
        assertThat(unknownRole.body().path("errors").get(0).path("message").asString())
                .isEqualTo("must be one of: VIEWER, OPERATOR, ADMIN");
        refusedNaming(() -> send("POST", "/api/v1/tokens", ADMIN_TOKEN, "{\"name\":7,\"role\":\"VIEWER\"}"),
                "name");
        Reply badId = call("GET", "/api/v1/nodes/not-a-uuid", ADMIN_TOKEN, null);
        assertThat(badId.body().path("detail").asString()).isEqualTo("id: must be a UUID");
        RegisterResponse node = register("bad-input-float", Map.of());
        refusedNaming(() -> call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                "{\"sequence\":1.5,\"gpus\":[],\"trainer\":{\"state\":\"IDLE\",\"rank\":-1,\"generation\":0,"
                        + "\"lastStep\":-1}}"), "sequence");
    }

    /** A webhook's name goes into chat messages: a line break in it forges a line. */
    @Test
    void webhookNamesAreOneLine() {
        refusedNaming(() -> call("POST", "/api/v1/webhooks", ADMIN_TOKEN, Map.of("name", "ops\r\n<!channel>",
                "url", "http://127.0.0.1:9/hook", "eventTypes", List.of("node.failed"))), "name");
    }
}
