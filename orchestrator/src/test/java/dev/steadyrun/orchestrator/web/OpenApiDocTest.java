package dev.steadyrun.orchestrator.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;

/** Fetches the OpenAPI description springdoc serves and keeps the repository copy in docs/openapi.json current. */
class OpenApiDocTest extends OrchestratorIntegrationTest {

    @Test
    void writesTheServedDescriptionToDocs() throws IOException {
        Reply r = send("GET", "/v3/api-docs", ADMIN_TOKEN, null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().path("paths").has("/api/v1/agents/{nodeId}/heartbeat")).isTrue();
        assertThat(r.body().path("paths").has("/api/v1/nodes")).isTrue();
        Path docs = Path.of("..", "docs").toAbsolutePath().normalize();
        Files.createDirectories(docs);
        Files.writeString(docs.resolve("openapi.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(r.body()) + "\n");
    }
}
