package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import tools.jackson.databind.JsonNode;

/** Run specs written in YAML: the same schema and checks as JSON, with each error's line and column. */
class RunYamlSpecTest extends RunsApiSupport {

    private String operator;
    private String rack;

    @BeforeEach
    void setUp() {
        operator = token("OPERATOR");
        rack = newRack();
        fleet(rack, 2);
    }

    private String spec(String extra) {
        return """
                name: yaml %s
                model:
                  size: tiny
                data:
                  sample: europarl
                worldSize: 1
                nodeSelector:
                  rack: %s
                """.formatted(rack, rack) + extra;
    }

    /** Submits YAML and checks the refusal stored nothing; answers the problem detail. */
    private JsonNode refused(String yaml) {
        long runs = count("run");
        Reply reply = send("POST", "/api/v1/runs", operator, yaml, "application/yaml");
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(400);
        assertThat(reply.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(count("run")).isEqualTo(runs);
        return reply.body();
    }

    @Test
    void aYamlSpecResolvesLikeTheSameSpecInJson() {
        String yaml = spec("""
                hyper:
                  clipNorm: 0.3   # comments are fine
                  precision: fp16-emulated
                recoveryPolicy:
                  restartBudget: 7
                """);
        Reply fromYaml = send("POST", "/api/v1/runs", operator, yaml, "application/yaml");
        assertThat(fromYaml.status()).as(fromYaml.raw().body()).isEqualTo(201);
        assertThat(fromYaml.body().get("state").asString()).isEqualTo("PENDING");

        Map<String, Object> json = tinyRun(rack, 1, 0);
        json.put("name", "yaml " + rack);
        json.put("hyper", Map.of("clipNorm", 0.3, "precision", "fp16-emulated"));
        json.put("recoveryPolicy", Map.of("restartBudget", 7));
        json.remove("checkpointLocation"); // the YAML leaves it to the server's default too
        Reply fromJson = call("POST", "/api/v1/runs", operator, json);
        assertThat(fromJson.status()).as(fromJson.raw().body()).isEqualTo(201);

        assertThat(fromYaml.body().get("spec")).isEqualTo(fromJson.body().get("spec"));
        assertThat(fromYaml.body().at("/spec/hyper/clipNorm").asDouble()).isEqualTo(0.3);
        for (String type : new String[] {"application/x-yaml", "text/yaml"}) {
            Reply other = send("POST", "/api/v1/runs", operator, yaml.replace("name: yaml", "name: café ✓"), type);
            assertThat(other.status()).as(type).isEqualTo(201);
            assertThat(other.body().get("name").asString()).isEqualTo("café ✓ " + rack); // read as UTF-8
        }
    }

    @Test
    void aValueOfTheWrongTypeNamesTheFieldAndItsLine() {
        JsonNode problem = refused(spec("").replace("worldSize: 1", "worldSize: two"));
        assertThat(problem.get("field").asString()).isEqualTo("worldSize");
        assertThat(problem.get("line").asInt()).isEqualTo(6);
        assertThat(problem.get("column").asInt()).isPositive();
        assertThat(problem.at("/errors/0/line").asInt()).isEqualTo(6);
    }

    @Test
    void anUnknownFieldIsNamedWithItsLine() {
        JsonNode problem = refused(spec("").replace("  size: tiny", "  size: tiny\n  layerz: 2"));
        assertThat(problem.get("field").asString()).isEqualTo("model.layerz");
        assertThat(problem.at("/errors/0/message").asString()).isEqualTo("unknown field");
        assertThat(problem.get("line").asInt()).isEqualTo(4);
        assertThat(problem.get("column").asInt()).isEqualTo(3);
    }

    @Test
    void everyRefusedFieldCarriesTheLineOfItsKey() {
        JsonNode problem = refused(spec("""
                spares: -1
                hyper:
                  precision: bf16
                  dropout: 1.5
                """));
        Map<String, Integer> lines = new HashMap<>();
        problem.get("errors").forEach(e -> lines.put(e.get("field").asString(), e.path("line").asInt(-1)));
        assertThat(lines).containsExactlyInAnyOrderEntriesOf(Map.of("spares", 9, "hyper.precision", 11,
                "hyper.dropout", 12));
        assertThat(problem.get("errors").findValuesAsString("column")).allMatch(c -> Integer.parseInt(c) > 0);

        JsonNode policy = refused(spec("""
                recoveryPolicy:
                  restartBudget: 3
                  divergenceLadder:
                    - lrMultiplier: 0.5
                    - lrMultiplier: -1
                """));
        assertThat(policy.get("field").asString()).isEqualTo("recoveryPolicy.divergenceLadder[1].lrMultiplier");
        assertThat(policy.get("line").asInt()).isEqualTo(13);
        assertThat(policy.get("column").asInt()).isEqualTo(7);
    }

    @Test
    void onlyTheRunSpecEndpointReadsYaml() {
        // Spring's own YAML converter would take this, unknown field and all
        Reply token = send("POST", "/api/v1/tokens", ADMIN_TOKEN, "name: yaml-token\nrole: VIEWER\nbogus: 1\n",
                "application/yaml");
        assertThat(token.status()).as(token.raw().body()).isEqualTo(415);
    }

    @Test
    void malformedYamlIsRefusedWithItsLine() {
        JsonNode problem = refused(spec("hyper: {clipNorm: 0.3, precision: fp32\n"));
        assertThat(problem.get("detail").asString()).contains("malformed YAML");
        assertThat(problem.get("line").asInt()).isGreaterThanOrEqualTo(9);
        assertThat(refused("").get("detail").asString()).isEqualTo("request body is missing");
        assertThat(refused("# nothing but a comment\n").get("field").asString()).isEqualTo("(body)");
        assertThat(refused(spec("---\nworldSize: 2\n")).get("detail").asString()).isNotBlank();
    }
}
