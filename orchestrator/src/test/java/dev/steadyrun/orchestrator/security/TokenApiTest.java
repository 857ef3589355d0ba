package dev.steadyrun.orchestrator.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;

class TokenApiTest extends OrchestratorIntegrationTest {

    @Test
    void adminCreatesATokenWhoseSecretIsShownOnceAndStoredHashed() {
        Reply created = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "ops-1", "role", "OPERATOR"));
        assertThat(created.status()).isEqualTo(201);
        String secret = created.body().path("secret").asString();
        assertThat(secret).startsWith("srt_").hasSizeGreaterThan(40);
        String id = created.body().path("token").path("id").asString();
        assertThat(created.body().path("token").path("createdBy").asString()).isEqualTo("operator:bootstrap-admin");

        byte[] stored = jdbc.queryForObject("select secret_hash from api_token where name = 'ops-1'", byte[].class);
        assertThat(stored).isEqualTo(Secrets.sha256(secret));

        Reply list = call("GET", "/api/v1/tokens", ADMIN_TOKEN, null);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.raw().body()).contains("ops-1").doesNotContain(secret).doesNotContain("secret");

        // The new OPERATOR token works for reads and operator actions, not for token management.
        assertThat(call("GET", "/api/v1/nodes", secret, null).status()).isEqualTo(200);
        assertThat(call("GET", "/api/v1/tokens", secret, null).status()).isEqualTo(403);

        assertThat(call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "ops-1", "role", "VIEWER")).status())
                .isEqualTo(409);
        Reply invalid = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "bad name!", "role", "VIEWER"));
        assertThat(invalid.status()).isEqualTo(400);
        assertThat(invalid.body().path("field").asString()).isEqualTo("name");

        assertThat(call("DELETE", "/api/v1/tokens/" + id, ADMIN_TOKEN, null).status()).isEqualTo(200);
        assertThat(call("GET", "/api/v1/nodes", secret, null).status()).as("revoked").isEqualTo(401);
    }

    @Test
    void meTellsTheCallersNameAndRoleAndNeedsAValidToken() {
        String viewer = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "watcher-1", "role", "VIEWER"))
                .body().path("secret").asString();

        Reply me = call("GET", "/api/v1/me", viewer, null);
        assertThat(me.status()).isEqualTo(200);
        assertThat(me.body().path("name").asString()).isEqualTo("watcher-1");
        assertThat(me.body().path("role").asString()).isEqualTo("VIEWER");
        assertThat(me.raw().body()).doesNotContain(viewer);

        assertThat(call("GET", "/api/v1/me", ADMIN_TOKEN, null).body().path("role").asString()).isEqualTo("ADMIN");
        assertThat(call("GET", "/api/v1/me", "srt_not-a-token", null).status()).isEqualTo(401);
    }
}
