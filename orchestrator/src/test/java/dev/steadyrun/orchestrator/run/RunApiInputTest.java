package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import tools.jackson.databind.JsonNode;

/** Bad input on the runs API: the right status, a problem detail naming the field, and nothing stored. */
class RunApiInputTest extends RunsApiSupport {

    private String operator;
    private String viewer;
    private String rack;

    @BeforeEach
    void setUp() {
        operator = token("OPERATOR");
        viewer = token("VIEWER");
        rack = newRack();
        fleet(rack, 2);
    }

    /** Submits and checks the refusal; answers the problem detail. */
    private JsonNode refused(String token, Object body, int status) {
        long runs = count("run");
        long events = count("run_event");
        Reply reply = call("POST", "/api/v1/runs", token, body);
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(status);
        assertThat(reply.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(reply.body().get("status").asInt()).isEqualTo(status);
        assertThat(count("run")).isEqualTo(runs);
        assertThat(count("run_event")).isEqualTo(events);
        return reply.body();
    }

    private static String spec(String worldSize) {
        return """
                {"model":{"size":"tiny"},"data":{"sample":"europarl"},"worldSize":%s}""".formatted(worldSize);
    }

    @Test
    void malformedJsonIsRefused() {
        JsonNode problem = refused(operator, "{\"model\": {\"size\": \"tiny\"", 400);
        assertThat(problem.get("detail").asString()).contains("malformed JSON");
        refused(operator, "", 400);
    }

    @Test
    void unknownFieldsAreRefusedByName() {
        assertThat(refused(operator, "{\"worldsize\":1," + spec("1").substring(1), 400).get("field").asString())
                .isEqualTo("worldsize");
        assertThat(refused(operator, spec("1").replace("\"size\":\"tiny\"", "\"size\":\"tiny\",\"layerz\":2"), 400)
                .get("field").asString()).isEqualTo("model.layerz");
    }

    @Test
    void worldSizeMustBePositiveAndFitTheFleet() {
        assertThat(refused(operator, spec("0"), 400).get("field").asString()).isEqualTo("worldSize");
        assertThat(refused(operator, spec("-2"), 400).get("field").asString()).isEqualTo("worldSize");
        assertThat(refused(operator, spec("\"two\""), 400).get("field").asString()).isEqualTo("worldSize");
        // batchTokens split over 100000 ranks, so that only the fleet's size is wrong
        JsonNode tooBig = refused(operator, spec("100000").replace("\"worldSize\"",
                "\"hyper\":{\"batchTokens\":12800000},\"worldSize\""), 422);
        assertThat(tooBig.get("field").asString()).isEqualTo("worldSize");
        assertThat(tooBig.get("detail").asString()).contains("100000");
        // with a selector only the selected nodes count: 2 in this rack
        Map<String, Object> three = tinyRun(rack, 3, 0);
        three.put("hyper", Map.of("batchTokens", 3 * 128));
        assertThat(refused(operator, three, 422).get("field").asString()).isEqualTo("worldSize");
        assertThat(refused(operator, tinyRun(rack, 2, 1), 422).get("field").asString()).isEqualTo("spares");
    }

    @Test
    void everyBadFieldIsNamed() {
        String body = """
                {"model":{"size":"tiny"},"data":{"path":"/d","sample":"europarl"},"spares":-1,
                 "worldSize":1,"hyper":{"precision":"bf16","dropout":1.5},"recoveryPolicy":[1]}""";
        JsonNode problem = refused(operator, body, 400);
        assertThat(problem.get("errors").findValuesAsString("field")).containsExactlyInAnyOrder("data", "spares",
                "hyper.precision", "hyper.dropout", "recoveryPolicy");
        assertThat(refused(operator, spec("1").replace("{\"size\":\"tiny\"}",
                "{\"layers\":2,\"heads\":3,\"dModel\":128}"), 400).get("field").asString()).isEqualTo("model.dModel");
    }

    @Test
    void rolesAreEnforced() {
        refused(viewer, tinyRun(rack, 1, 0), 403);
        refused(null, tinyRun(rack, 1, 0), 401);
        Reply created = call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0));
        assertThat(created.status()).isEqualTo(201);
        String id = created.body().get("id").asString();
        assertThat(call("GET", "/api/v1/runs/" + id, viewer, null).status()).isEqualTo(200);
        String byOperators = "run_event where run_id = '" + id + "' and actor like 'operator:%'";
        assertThat(call("POST", "/api/v1/runs/" + id + "/cancel", viewer, null).status()).isEqualTo(403);
        assertThat(count(byOperators)).isEqualTo(1); // the submission only
        assertThat(call("POST", "/api/v1/runs/" + id + "/cancel", operator, null).status()).isEqualTo(200);
    }

    @Test
    void listingPagesAndFiltersByState() {
        for (int i = 0; i < 3; i++) {
            assertThat(call("POST", "/api/v1/runs", operator, Map.of("model", Map.of("size", "125M"),
                    "data", Map.of("path", "/shards"), "worldSize", 1, "nodeSelector", Map.of("rack", rack)))
                    .status()).isEqualTo(201);
        }
        Reply page = call("GET", "/api/v1/runs?page=0&size=2", viewer, null);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.body().get("items").size()).isEqualTo(2);
        assertThat(page.body().get("total").asLong()).isGreaterThanOrEqualTo(3);
        Reply cancelled = call("GET", "/api/v1/runs?state=CANCELLED&size=200", viewer, null);
        assertThat(cancelled.body().get("items").findValuesAsString("state")).allMatch("CANCELLED"::equals);

        assertThat(call("GET", "/api/v1/runs?state=NAPPING", viewer, null).body().get("field").asString())
                .isEqualTo("state");
        assertThat(call("GET", "/api/v1/runs?size=0", viewer, null).body().get("field").asString()).isEqualTo("size");
        assertThat(call("GET", "/api/v1/runs/" + UUID.randomUUID(), viewer, null).status()).isEqualTo(404);
        assertThat(call("GET", "/api/v1/runs/not-a-uuid", viewer, null).status()).isEqualTo(400);
        assertThat(call("POST", "/api/v1/runs/" + UUID.randomUUID() + "/pause", operator, null).status())
                .isEqualTo(404);
    }

    @Test
    void badReportsAreRefusedByField() {
        Agent agent = fleet(newRack(), 1).get(0);
        String path = "/api/v1/agents/" + agent.id() + "/reports";
        Reply noRun = call("POST", path, agent.credential(), "{\"rank\":0,\"generation\":1}");
        assertThat(noRun.status()).isEqualTo(400);
        assertThat(noRun.body().get("field").asString()).isEqualTo("runId");
        Reply unknown = call("POST", path, agent.credential(),
                "{\"runId\":\"" + UUID.randomUUID() + "\",\"rank\":0,\"generation\":1}");
        assertThat(unknown.status()).isEqualTo(404);
        Reply wrongCredential = call("POST", path, operator, "{\"rank\":0,\"generation\":1}");
        assertThat(wrongCredential.status()).isEqualTo(401);
    }
}
