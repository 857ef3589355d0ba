package dev.steadyrun.orchestrator;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ApplicationBootsTest extends OrchestratorIntegrationTest {

    @Test
    void migratesAndAnswersHealth() {
        Reply health = call("GET", "/readyz", null, null);
        assertThat(health.status()).isEqualTo(200);
        assertThat(count("node")).isGreaterThanOrEqualTo(0);
    }
}
