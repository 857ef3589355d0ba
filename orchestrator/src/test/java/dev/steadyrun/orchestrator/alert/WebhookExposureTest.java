package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.orchestrator.alert.WebhookReceiver.Answer;
import dev.steadyrun.protocol.RegisterResponse;
import tools.jackson.databind.JsonNode;

/**
 * What webhooks must not leak or let through: a destination URL (a Slack URL is a credential) to anyone but an
 * admin, a receiver's answer into the delivery log, and chat markup from a name into a Slack message.
 */
class WebhookExposureTest extends OrchestratorIntegrationTest {

    @Autowired
    AlertDispatcher dispatcher;

    private WebhookReceiver receiver;

    @BeforeEach
    void noOtherSubscriptions() {
        jdbc.update("delete from webhook_subscription");
    }

    @AfterEach
    void stopReceiver() {
        if (receiver != null) {
            receiver.close();
        }
    }

    private String token(String name, String role) {
        return call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", name, "role", role)).body().path("secret")
                .asString();
    }

    private String create(String url, String format, String type) {
        Reply r = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", url, "format", format, "eventTypes", List.of(type)));
        assertThat(r.status()).as("create webhook: %s", r.body()).isEqualTo(201);
        return r.body().path("id").asString();
    }

    @Test
    void onlyAnAdminSeesTheWholeDestinationUrl() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        String url = receiver.url() + "/services/T0001/B0001/xoxSecretPart";
        String id = create(url, "slack", "human.needed");
        URI u = URI.create(url);
        String masked = "http://127.0.0.1:" + u.getPort();

        for (String reader : List.of(token("hooks-viewer", "VIEWER"), token("hooks-operator", "OPERATOR"))) {
            Reply list = call("GET", "/api/v1/webhooks", reader, null);
            assertThat(list.status()).isEqualTo(200);
            assertThat(list.raw().body()).doesNotContain("xoxSecretPart").doesNotContain("/hook");
            assertThat(list.body().get(0).path("url").asString()).isEqualTo(masked);
            Reply one = call("GET", "/api/v1/webhooks/" + id, reader, null);
            assertThat(one.raw().body()).doesNotContain("xoxSecretPart");
            assertThat(one.body().path("url").asString()).isEqualTo(masked);
        }
        assertThat(call("GET", "/api/v1/webhooks/" + id, ADMIN_TOKEN, null).body().path("url").asString())
                .isEqualTo(url);
    }

    @Test
    void deliveryLogKeepsTheStatusNotTheReceiversAnswer() {
        receiver = new WebhookReceiver(n -> new Answer(500, 0, "db password is hunter2 <!channel>"));
        String id = create(receiver.url(), "json", "human.needed");
        assertThat(call("POST", "/api/v1/webhooks/" + id + "/test", ADMIN_TOKEN, null).status()).isEqualTo(202);

        dispatcher.dispatchDue();

        Reply log = call("GET", "/api/v1/webhooks/" + id + "/deliveries", ADMIN_TOKEN, null);
        assertThat(log.raw().body()).doesNotContain("hunter2");
        JsonNode delivery = log.body().get(0);
        assertThat(delivery.path("lastError").asString()).isEqualTo("HTTP 500: receiver error");
        assertThat(delivery.path("attemptLog").get(0).path("error").asString()).isEqualTo("HTTP 500: receiver error");
        assertThat(jdbc.queryForObject("select count(*) from webhook_attempt where error like '%hunter2%'",
                Long.class)).isZero();
    }

    @Test
    void slackTextCannotCarryMentionsOrLinks() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        create(receiver.url(), "slack", "node.cordoned");
        RegisterResponse node = register("slack-escape-1", Map.of());

        assertThat(call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", ADMIN_TOKEN,
                Map.of("reason", "<!channel> fans & <https://evil.example|click>")).status()).isEqualTo(200);
        dispatcher.dispatchDue();

        assertThat(receiver.received()).hasSize(1);
        String text = json.readTree(receiver.received().get(0).body()).path("text").asString();
        assertThat(text).doesNotContain("<").doesNotContain(">")
                .contains("&lt;!channel&gt; fans &amp; &lt;https://evil.example|click&gt;");
    }
}
