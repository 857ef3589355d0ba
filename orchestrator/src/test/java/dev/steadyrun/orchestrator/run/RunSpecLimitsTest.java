package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import tools.jackson.databind.JsonNode;

/**
 * Specs that were accepted, stored silently changed, or answered 500: each is now a 400 naming its field, in the
 * caller's terms (no Java type names), with nothing stored. Found by trying bad requests against a running
 * orchestrator (issue 15).
 */
class RunSpecLimitsTest extends RunsApiSupport {

    private String operator;
    private String rack;

    @BeforeEach
    void setUp() {
        operator = token("OPERATOR");
        rack = newRack();
        fleet(rack, 2);
    }

    /** Submits {@code body} (JSON, or YAML with a YAML content type) and answers the 400's problem detail. */
    private JsonNode refused(String body, String contentType, String field) {
        long runs = count("run");
        long events = count("run_event");
        Reply reply = send("POST", "/api/v1/runs", operator, body, contentType);
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(400);
        assertThat(reply.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(reply.body().get("field").asString()).as(reply.raw().body()).isEqualTo(field);
        assertThat(reply.raw().body()).doesNotContain("java.", "dev.steadyrun", "`");
        assertThat(count("run")).isEqualTo(runs);
        assertThat(count("run_event")).isEqualTo(events);
        return reply.body();
    }

    private JsonNode refused(Object body, String field) {
        return refused(body instanceof String s ? s : json.writeValueAsString(body), "application/json", field);
    }

    /** A 201, once the scheduler placed the run: its placement events must not land in the next test's counts. */
    private Reply accepted(Reply reply) {
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(201);
        awaitState(operator, UUID.fromString(reply.body().get("id").asString()), RunState.STARTING);
        return reply;
    }

    private Map<String, Object> run() {
        return new LinkedHashMap<>(tinyRun(rack, 1, 0));
    }

    private Map<String, Object> with(String key, Object value) {
        Map<String, Object> spec = run();
        spec.put(key, value);
        return spec;
    }

    /** {@code worldSize + spares} overflowed: the run was accepted and every scheduling pass threw. */
    @Test
    void sparesAndWorldSizeAreBounded() {
        refused("{\"model\":{\"size\":\"tiny\"},\"data\":{\"sample\":\"europarl\"},\"worldSize\":1,"
                + "\"spares\":2147483647}", "spares");
        refused(with("spares", 100_001), "spares");
        refused(with("worldSize", 100_001), "worldSize");
        Map<String, Object> selector = new LinkedHashMap<>();
        for (int i = 0; i < 21; i++) {
            selector.put("k" + i, "v");
        }
        refused(with("nodeSelector", selector), "nodeSelector");
        refused(with("nodeSelector", Map.of("k".repeat(64), "v")), "nodeSelector." + "k".repeat(64));
    }

    /** seqLen 0 was recorded as an error and then divided by: 500. */
    @Test
    void seqLenZeroIsA400() {
        refused(with("model", Map.of("size", "tiny", "seqLen", 0)), "model.seqLen");
    }

    @Test
    void modelDimensionsVocabAndLrHaveUpperBounds() {
        refused(with("model", Map.of("layers", 1_000_000, "heads", 16, "dModel", 1024)), "model.layers");
        refused(with("model", Map.of("layers", 2, "heads", 16, "dModel", 1 << 20)), "model.dModel");
        refused(with("model", Map.of("layers", 2, "heads", 2048, "dModel", 4096)), "model.heads");
        refused(with("model", Map.of("size", "tiny", "seqLen", 1 << 20)), "model.seqLen");
        refused(with("model", Map.of("size", "tiny", "vocab", Integer.MAX_VALUE)), "model.vocab");
        refused(with("hyper", Map.of("lr", 1e308)), "hyper.lr");
        refused(with("hyper", Map.of("lr", 1.5)), "hyper.lr");
    }

    /** A NUL reached PostgreSQL (500); a line break in a name forges log and chat lines. */
    @Test
    void namesAreOneLineWithoutNul() {
        JsonNode nul = refused(with("name", "a\u0000b"), "name");
        assertThat(nul.get("errors").get(0).get("message").asString()).contains("NUL");
        refused(with("name", "ok\r\nFAKE log line"), "name");
        refused(with("name", "tab\there"), "name");
    }

    @Test
    void pathsNeverClimbWithDotDot() {
        refused(with("data", Map.of("path", "../../etc")), "data.path");
        refused(with("data", Map.of("path", "shards/../../../etc")), "data.path");
        refused(with("data", Map.of("path", "/shards/\u0001x")), "data.path");
        refused(with("data", Map.of("path", "/" + "x".repeat(100_000))), "data.path");
        refused(with("checkpointLocation", "../../etc"), "checkpointLocation");
        refused(with("checkpointLocation", "/shared/../etc"), "checkpointLocation");
        refused(with("checkpointLocation", "/" + "x".repeat(3900)), "checkpointLocation");
        // absolute paths are where operators keep shared data and checkpoints; relative ones stay under the root
        Map<String, Object> absolute = with("data", Map.of("path", "/mnt/shared/shards..v2"));
        absolute.put("checkpointLocation", "runs/ckpt");
        accepted(send("POST", "/api/v1/runs", operator, json.writeValueAsString(absolute), "application/json"));
    }

    /** {@code worldSize: 1.5} was stored as 1. */
    @Test
    void floatsAreNotIntegers() {
        JsonNode problem = refused(json.writeValueAsString(run()).replace("\"worldSize\":1", "\"worldSize\":1.5"),
                "worldSize");
        assertThat(problem.get("detail").asString()).contains("must be an integer");
        refused(json.writeValueAsString(run()).replace("\"worldSize\":1", "\"worldSize\":\"1\""), "worldSize");
        refused(with("name", 7), "name"); // nor is a number a name
    }

    /** 2^31 and 1e308 answered "malformed JSON" without the field, and named java.lang.Integer. */
    @Test
    void outOfRangeNumbersNameTheField() {
        String spec = json.writeValueAsString(run());
        JsonNode big = refused(spec.replace("\"worldSize\":1", "\"worldSize\":2147483648"), "worldSize");
        assertThat(big.get("detail").asString()).isEqualTo(
                "worldSize: must be an integer from -2147483648 to 2147483647");
        refused(spec.replace("\"worldSize\":1", "\"worldSize\":1e308"), "worldSize");
        refused(spec.replace("\"spares\":0", "\"checkpointInterval\":99999999999999999999,\"spares\":0"),
                "checkpointInterval");
    }

    @Test
    void yamlFollowsTheSameRules() {
        String yaml = """
                model: {size: tiny}
                data: {sample: europarl}
                nodeSelector: {rack: %s}
                worldSize: %s
                """;
        refused(yaml.formatted(rack, "1.5"), "application/yaml", "worldSize");
        refused(yaml.formatted(rack, "2147483648"), "application/yaml", "worldSize");
        refused(yaml.formatted(rack, "1\nspares: 2147483647"), "application/yaml", "spares");
        refused(yaml.formatted(rack, "1\nname: \"a\\0b\""), "application/yaml", "name");
        // a YAML scalar that looks like a number is still text where text is expected
        Reply numericLabel = accepted(send("POST", "/api/v1/runs", operator,
                yaml.formatted(rack, "1\nname: 2024"), "application/yaml"));
        assertThat(numericLabel.body().get("name").asString()).isEqualTo("2024");
    }
}
