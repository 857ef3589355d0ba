package dev.steadyrun.orchestrator.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;

/**
 * The API port serves the API, the dashboard and the probes; metrics and the rest of the actuator live on the
 * management port, which the chart does not expose; the OpenAPI description needs a token of any role.
 */
class ManagementPortTest extends OrchestratorIntegrationTest {

    @Test
    void apiPortServesOnlyTheProbes() {
        assertThat(call("GET", "/livez", null, null).status()).isEqualTo(200);
        assertThat(call("GET", "/readyz", null, null).status()).isEqualTo(200);
        for (String path : new String[] {"/actuator/prometheus", "/actuator/health", "/actuator", "/actuator/info",
                "/actuator/health/liveness", "/actuator/env"}) {
            Reply r = call("GET", path, null, null);
            assertThat(r.status()).as(path).isEqualTo(404);
            assertThat(r.raw().body()).as(path).doesNotContain("steadyrun_");
        }
    }

    @Test
    void managementPortServesMetricsAndProbes() {
        assertThat(managementPort).isNotEqualTo(port);
        assertThat(prometheus()).contains("steadyrun_");
    }

    @Test
    void openApiDescriptionNeedsAToken() {
        assertThat(call("GET", "/v3/api-docs", null, null).status()).isEqualTo(401);
        String viewer = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "docs-reader", "role", "VIEWER"))
                .body().path("secret").asString();
        assertThat(call("GET", "/v3/api-docs", viewer, null).status()).isEqualTo(200);
    }
}
