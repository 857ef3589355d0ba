package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.micrometer.core.instrument.MeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.IllegalTransactionStateException;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.orchestrator.alert.WebhookReceiver.Answer;
import dev.steadyrun.protocol.RegisterResponse;
import tools.jackson.databind.JsonNode;

/**
 * Webhook delivery end to end: events written in the database (by the node and run triggers, or the outbox), the
 * real dispatcher, real HTTP to a real receiver on 127.0.0.1. The clock is moved to make retries due.
 */
class WebhookDeliveryTest extends OrchestratorIntegrationTest {

    /** Marks the bare run rows of these tests, removed after each (the runs code cannot read their spec). */
    private static final String RUN_AUTHOR = "alert-test";
    private static final Duration PAST_ANY_BACKOFF = Duration.ofHours(1).plusSeconds(1);

    @Autowired
    AlertDispatcher dispatcher;
    @Autowired
    AlertOutbox outbox;
    @Autowired
    PlatformTransactionManager transactions;
    @Autowired
    MeterRegistry meters;
    @Autowired
    AlertProperties props;
    @Autowired
    SecretBox secrets;
    @Autowired
    DestinationPolicy destinations;
    @Autowired
    WebhookClient client;
    @Autowired
    PayloadRenderer renderer;

    private WebhookReceiver receiver;

    @BeforeEach
    void noOtherSubscriptions() {
        jdbc.update("delete from webhook_subscription");
    }

    @AfterEach
    void cleanUp() {
        if (receiver != null) {
            receiver.close();
        }
        jdbc.update("delete from run where created_by = ?", RUN_AUTHOR);
    }

    @Test
    void signatureVerifiesWithTheSecretShownAtCreation() throws Exception {
        receiver = new WebhookReceiver(n -> Answer.status(204));
        JsonNode created = createWebhook(receiver.url(), "json", "run.state_changed");
        String secret = created.path("secret").asString();
        assertThat(secret).startsWith("whsec_");
        UUID run = insertRun("sign-me");
        transition(run, null, "PENDING");

        assertThat(dispatcher.dispatchDue()).isEqualTo(1);

        assertThat(receiver.received()).hasSize(1);
        WebhookReceiver.Received got = receiver.received().get(0);
        String id = got.header("webhook-id");
        String timestamp = got.header("webhook-timestamp");
        assertThat(id).startsWith("msg_");
        assertThat(Long.parseLong(timestamp)).isEqualTo(clock.instant().getEpochSecond());
        // recomputed here independently of StandardWebhooks
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        String expected = "v1," + Base64.getEncoder().encodeToString(
                mac.doFinal((id + "." + timestamp + "." + got.body()).getBytes(StandardCharsets.UTF_8)));
        assertThat(got.header("webhook-signature")).isEqualTo(expected);

        JsonNode body = json.readTree(got.body());
        assertThat(body.path("type").asString()).isEqualTo("run.state_changed");
        assertThat(body.path("timestamp").asString()).isEqualTo(clock.instant().toString());
        assertThat(body.path("data").path("runId").asString()).isEqualTo(run.toString());
        assertThat(body.path("data").path("runName").asString()).isEqualTo("sign-me");
        assertThat(body.path("data").path("toState").asString()).isEqualTo("PENDING");

        // the secret is never shown again
        UUID webhookId = UUID.fromString(created.path("id").asString());
        Reply one = call("GET", "/api/v1/webhooks/" + webhookId, ADMIN_TOKEN, null);
        assertThat(one.status()).isEqualTo(200);
        assertThat(one.body().has("secret")).isFalse();
        assertThat(one.raw().body()).doesNotContain(secret);
        Reply all = call("GET", "/api/v1/webhooks", ADMIN_TOKEN, null);
        assertThat(all.raw().body()).doesNotContain(secret).contains(webhookId.toString());
        assertThat(jdbc.queryForObject("select count(*) from webhook_subscription where position(? in "
                + "encode(secret_ciphertext, 'escape')) > 0", Long.class, secret)).isZero();
    }

    @Test
    void serverErrorIsRetriedWithTheSameWebhookIdAfterBackoff() {
        receiver = new WebhookReceiver(n -> Answer.status(n == 0 ? 500 : 200));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID run = insertRun("retry-500");
        transition(run, null, "PENDING");
        double deliveredBefore = counter("delivered");

        assertThat(dispatcher.dispatchDue()).isEqualTo(1);
        assertThat(dispatcher.dispatchDue()).as("not due before its backoff").isZero();
        clock.advance(PAST_ANY_BACKOFF);
        assertThat(dispatcher.dispatchDue()).isEqualTo(1);

        List<WebhookReceiver.Received> got = receiver.received();
        assertThat(got).hasSize(2);
        assertThat(got.get(1).header("webhook-id")).isEqualTo(got.get(0).header("webhook-id"));
        assertThat(got.get(1).body()).isEqualTo(got.get(0).body());
        assertThat(counter("delivered")).isEqualTo(deliveredBefore + 1);

        JsonNode log = call("GET", "/api/v1/webhooks/" + webhook + "/deliveries", ADMIN_TOKEN, null).body();
        assertThat(log).hasSize(1);
        JsonNode delivery = log.get(0);
        assertThat(delivery.path("state").asString()).isEqualTo("DELIVERED");
        assertThat(delivery.path("webhookId").asString()).isEqualTo(got.get(0).header("webhook-id"));
        assertThat(delivery.path("attempts").asInt()).isEqualTo(2);
        JsonNode attempts = delivery.path("attemptLog");
        assertThat(attempts.get(0).path("statusCode").asInt()).isEqualTo(500);
        assertThat(attempts.get(0).path("error").asString()).contains("HTTP 500");
        assertThat(attempts.get(1).path("statusCode").asInt()).isEqualTo(200);
        assertThat(attempts.get(1).path("error").isNull()).isTrue();
        assertThat(attempts.get(1).path("latencyMs").asLong()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void timeoutIsRetried() {
        // read-timeout is 1s in the test profile
        receiver = new WebhookReceiver(n -> n == 0 ? new Answer(200, 3000) : Answer.status(200));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID run = insertRun("slow");
        transition(run, null, "PENDING");

        dispatcher.dispatchDue();
        clock.advance(PAST_ANY_BACKOFF);
        dispatcher.dispatchDue();

        JsonNode delivery = call("GET", "/api/v1/webhooks/" + webhook + "/deliveries", ADMIN_TOKEN, null)
                .body().get(0);
        assertThat(delivery.path("state").asString()).isEqualTo("DELIVERED");
        JsonNode first = delivery.path("attemptLog").get(0);
        assertThat(first.path("statusCode").isNull()).isTrue();
        assertThat(first.path("error").asString()).containsIgnoringCase("timed out");
        assertThat(receiver.received()).hasSize(2);
    }

    @Test
    void receiverDownForAWhileGetsEverythingInOrderPerRunOnceBack() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        createWebhook(receiver.url(), "json", "run.state_changed");
        receiver.stop();
        UUID a = insertRun("run-a");
        UUID b = insertRun("run-b");
        List<String> path = List.of("PENDING", "STARTING", "RUNNING", "PAUSING", "PAUSED");
        for (int i = 0; i < path.size(); i++) {
            transition(a, i == 0 ? null : path.get(i - 1), path.get(i));
            transition(b, i == 0 ? null : path.get(i - 1), path.get(i));
        }

        // while it is down only the head of each run's queue is tried: one attempt per run per pass
        for (int pass = 0; pass < 3; pass++) {
            assertThat(dispatcher.dispatchDue()).isEqualTo(2);
            clock.advance(PAST_ANY_BACKOFF);
        }
        assertThat(jdbc.queryForObject("select count(*) from webhook_delivery where state = 'PENDING'",
                Long.class)).isEqualTo(10);

        receiver.restart();
        clock.advance(PAST_ANY_BACKOFF);
        assertThat(dispatcher.dispatchDue()).isEqualTo(10);

        List<JsonNode> bodies = receiver.received().stream().map(r -> json.readTree(r.body())).toList();
        assertThat(bodies).hasSize(10);
        assertThat(statesOf(bodies, a)).containsExactlyElementsOf(path);
        assertThat(statesOf(bodies, b)).containsExactlyElementsOf(path);
        assertThat(receiver.received().stream().map(r -> r.header("webhook-id")).distinct()).hasSize(10);
    }

    @Test
    void restartInTheMiddleOfDeliveryLosesNothing() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID run = insertRun("restart");
        UUID other = insertRun("restart-other");
        transition(run, null, "PENDING");
        transition(run, "PENDING", "STARTING");
        transition(other, null, "PENDING");

        // the first orchestrator claims both queue heads, sends one, and dies before recording anything
        List<AlertDispatcher.Claim> claimed = dispatcher.claim();
        assertThat(claimed).hasSize(2);
        AlertDispatcher.Attempt sent = dispatcher.attempt(claimed.get(0));
        assertThat(sent.delivered()).isTrue();

        // a fresh orchestrator over the same database: the claims hold until their lease runs out
        AlertDispatcher restarted = new AlertDispatcher(jdbc, transactions, clock, props, secrets, destinations,
                new WebhookClient(props), renderer, meters);
        try {
            assertThat(restarted.dispatchDue()).isZero();
            clock.advance(props.claimLease().plusSeconds(1));
            assertThat(restarted.dispatchDue()).isEqualTo(3);
        } finally {
            restarted.close();
        }

        // the dead one's late record changes nothing: the delivery is no longer its
        dispatcher.record(claimed.get(0), sent);

        List<WebhookReceiver.Received> got = receiver.received();
        List<String> ids = got.stream().map(r -> r.header("webhook-id")).toList();
        assertThat(ids).hasSize(4);
        assertThat(ids.stream().distinct()).hasSize(3);
        // the one sent before the crash came again, with the same id (receivers de-duplicate on it)
        assertThat(ids.stream().filter(ids.get(0)::equals)).hasSize(2);
        assertThat(statesOf(got.stream().map(r -> json.readTree(r.body())).toList(), run))
                .containsExactly("PENDING", "PENDING", "STARTING");
        assertThat(jdbc.queryForObject("select count(*) from webhook_delivery where subscription_id = ? and "
                + "state = 'DELIVERED'", Long.class, webhook)).isEqualTo(3);
    }

    @Test
    void cordonThroughTheApiProducesANodeCordonedDelivery() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        createWebhook(receiver.url(), "slack", "node.cordoned", "node.failed");
        RegisterResponse node = register("alert-cordon-" + UUID.randomUUID().toString().substring(0, 8), Map.of());

        Reply cordon = call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", ADMIN_TOKEN,
                Map.of("reason", "bad fan"));
        assertThat(cordon.status()).isEqualTo(200);
        // the outbox row was committed with the cordon, before any dispatch
        assertThat(jdbc.queryForObject("select count(*) from alert_event where type = 'node.cordoned' and "
                + "ordering_key = ?", Long.class, node.nodeId().toString())).isEqualTo(1);

        dispatcher.dispatchDue();

        assertThat(receiver.received()).hasSize(1);
        JsonNode body = json.readTree(receiver.received().get(0).body());
        assertThat(body.path("text").asString()).startsWith("Steadyrun: Node alert-cordon-")
                .contains("cordoned by operator:").contains("bad fan");
    }

    @Test
    void testEventReachesOnlyThatWebhook() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        try (WebhookReceiver bystander = new WebhookReceiver(n -> Answer.status(200))) {
            UUID webhook = id(createWebhook(receiver.url(), "slack", "human.needed"));
            createWebhook(bystander.url(), "json", "human.needed");

            Reply test = call("POST", "/api/v1/webhooks/" + webhook + "/test", ADMIN_TOKEN, null);
            assertThat(test.status()).isEqualTo(202);
            assertThat(test.body().path("state").asString()).isEqualTo("PENDING");
            assertThat(test.body().path("eventType").asString()).isEqualTo("webhook.test");

            dispatcher.dispatchDue();

            assertThat(bystander.received()).isEmpty();
            assertThat(receiver.received()).hasSize(1);
            assertThat(json.readTree(receiver.received().get(0).body()).path("text").asString())
                    .startsWith("Steadyrun: Test event for webhook 127.0.0.1");
        }
    }

    @Test
    void deadLetterAfterMaxAgeDoesNotBlockTheRunAndCanBeRedelivered() {
        boolean[] up = {false};
        receiver = new WebhookReceiver(n -> Answer.status(up[0] ? 200 : 503));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID run = insertRun("doomed");
        transition(run, null, "PENDING");
        double deadBefore = counter("dead_lettered");

        // max-age is 24h and backoff tops out at 1h: it is dead well within 40 hourly passes
        for (int pass = 0; pass < 40 && !"DEAD".equals(state(webhook, 0)); pass++) {
            dispatcher.dispatchDue();
            clock.advance(PAST_ANY_BACKOFF);
        }
        assertThat(state(webhook, 0)).isEqualTo("DEAD");
        assertThat(counter("dead_lettered")).isEqualTo(deadBefore + 1);
        int attemptsWhileDown = receiver.received().size();
        assertThat(attemptsWhileDown).isBetween(5, 40);

        up[0] = true;
        transition(run, "PENDING", "STARTING");
        assertThat(dispatcher.dispatchDue()).as("a dead letter does not block its run").isEqualTo(1);

        JsonNode log = call("GET", "/api/v1/webhooks/" + webhook + "/deliveries", ADMIN_TOKEN, null).body();
        long deadId = log.get(1).path("id").asLong();
        Reply redeliver = call("POST", "/api/v1/webhook-deliveries/" + deadId + "/redeliver", ADMIN_TOKEN, null);
        assertThat(redeliver.status()).isEqualTo(202);
        assertThat(redeliver.body().path("state").asString()).isEqualTo("PENDING");
        assertThat(call("POST", "/api/v1/webhook-deliveries/" + deadId + "/redeliver", ADMIN_TOKEN, null)
                .status()).isEqualTo(409);
        assertThat(dispatcher.dispatchDue()).isEqualTo(1);

        List<WebhookReceiver.Received> got = receiver.received();
        assertThat(got.get(got.size() - 1).header("webhook-id")).isEqualTo(got.get(0).header("webhook-id"));
        assertThat(state(webhook, 1)).isEqualTo("DELIVERED");
    }

    @Test
    void goneDisablesTheWebhook() {
        receiver = new WebhookReceiver(n -> Answer.status(410));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID run = insertRun("gone");
        transition(run, null, "PENDING");
        transition(run, "PENDING", "STARTING");

        assertThat(dispatcher.dispatchDue()).isEqualTo(1);

        JsonNode view = call("GET", "/api/v1/webhooks/" + webhook, ADMIN_TOKEN, null).body();
        assertThat(view.path("disabledAt").isNull()).isFalse();
        assertThat(view.path("disabledReason").asString()).contains("410");
        assertThat(jdbc.queryForList("select state from webhook_delivery where subscription_id = ?", String.class,
                webhook)).containsExactly("DEAD", "DEAD");
        transition(run, "STARTING", "RUNNING");
        assertThat(jdbc.queryForObject("select count(*) from webhook_delivery where subscription_id = ?",
                Long.class, webhook)).as("no more events fanned out to it").isEqualTo(2);
        assertThat(call("POST", "/api/v1/webhooks/" + webhook + "/test", ADMIN_TOKEN, null).status())
                .isEqualTo(409);
    }

    @Test
    void outboxPublishesOnlyInsideTheCallersTransaction() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        createWebhook(receiver.url(), "json", "human.needed");
        Map<String, Object> data = Map.of("runId", "r-1", "summary", "loss diverged three times");

        assertThatThrownBy(() -> outbox.publish(AlertEventType.HUMAN_NEEDED, "r-1", data))
                .isInstanceOf(IllegalTransactionStateException.class);
        TransactionTemplate tx = new TransactionTemplate(transactions);
        tx.executeWithoutResult(status -> {
            outbox.publish(AlertEventType.HUMAN_NEEDED, "r-1", data);
            status.setRollbackOnly();
        });
        assertThat(dispatcher.dispatchDue()).as("a rolled-back change leaves no event").isZero();
        tx.executeWithoutResult(status -> outbox.publish(AlertEventType.HUMAN_NEEDED, "r-1", data));

        assertThat(dispatcher.dispatchDue()).isEqualTo(1);
        JsonNode body = json.readTree(receiver.received().get(0).body());
        assertThat(body.path("type").asString()).isEqualTo("human.needed");
        assertThat(body.path("data").path("summary").asString()).isEqualTo("loss diverged three times");
    }

    @Test
    void retentionDeletesOldFinishedEventsButKeepsPendingOnes() {
        receiver = new WebhookReceiver(n -> Answer.status(n == 0 ? 200 : 500));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        UUID delivered = insertRun("kept-then-purged");
        UUID pending = insertRun("still-pending");
        transition(delivered, null, "PENDING");
        dispatcher.dispatchDue();
        transition(pending, null, "PENDING");
        dispatcher.dispatchDue();
        assertThat(jdbc.queryForList("select state from webhook_delivery where subscription_id = ? order by id",
                String.class, webhook)).containsExactly("DELIVERED", "PENDING");

        AlertRetention retention = new AlertRetention(jdbc, clock, Duration.ofHours(1));
        retention.purge();
        assertThat(jdbc.queryForObject("select count(*) from alert_event where data->>'runId' = ?", Long.class,
                delivered.toString())).as("not old yet").isEqualTo(1);
        clock.advance(Duration.ofHours(2));
        retention.purge();

        assertThat(jdbc.queryForList("select state from webhook_delivery where subscription_id = ?", String.class,
                webhook)).containsExactly("PENDING");
        assertThat(jdbc.queryForObject("select count(*) from webhook_attempt a join webhook_delivery d "
                + "on d.id = a.delivery_id where d.subscription_id = ?", Long.class, webhook)).isEqualTo(1);
        assertThat(jdbc.queryForObject("select count(*) from alert_event where data->>'runId' = ?", Long.class,
                delivered.toString())).isZero();
    }

    @Test
    void badInputIsRefusedNamingTheField() {
        long before = count("webhook_subscription");
        Reply privateIp = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "http://10.1.2.3/hook", "eventTypes", List.of("node.failed")));
        assertThat(privateIp.status()).isEqualTo(400);
        assertThat(privateIp.body().path("field").asString()).isEqualTo("url");
        assertThat(privateIp.body().path("detail").asString()).contains("10.1.2.3").contains("private");

        Reply unknownType = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "http://127.0.0.1:9/hook", "eventTypes", List.of("node.failed", "node.exploded")));
        assertThat(unknownType.status()).isEqualTo(400);
        assertThat(unknownType.body().path("field").asString()).isEqualTo("eventTypes[1]");

        Reply testIsNotSubscribable = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "http://127.0.0.1:9/hook", "eventTypes", List.of("webhook.test")));
        assertThat(testIsNotSubscribable.body().path("field").asString()).isEqualTo("eventTypes[0]");

        Reply badScheme = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "ftp://127.0.0.1/hook", "eventTypes", List.of("node.failed")));
        assertThat(badScheme.body().path("field").asString()).isEqualTo("url");

        Reply badFormat = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "http://127.0.0.1:9/hook", "eventTypes", List.of("node.failed"), "format", "xml"));
        assertThat(badFormat.body().path("field").asString()).isEqualTo("format");

        Reply noTypes = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", "http://127.0.0.1:9/hook", "eventTypes", List.of()));
        assertThat(noTypes.status()).isEqualTo(400);
        assertThat(noTypes.body().path("field").asString()).isEqualTo("eventTypes");

        assertThat(count("webhook_subscription")).isEqualTo(before);
        assertThat(call("GET", "/api/v1/webhooks/" + UUID.randomUUID(), ADMIN_TOKEN, null).status())
                .isEqualTo(404);
        assertThat(call("POST", "/api/v1/webhooks", null,
                Map.of("url", "http://127.0.0.1:9/hook", "eventTypes", List.of("node.failed"))).status())
                .isEqualTo(401);
    }

    @Test
    void deleteRemovesTheWebhookAndItsQueue() {
        receiver = new WebhookReceiver(n -> Answer.status(200));
        UUID webhook = id(createWebhook(receiver.url(), "json", "run.state_changed"));
        transition(insertRun("deleted"), null, "PENDING");

        assertThat(call("DELETE", "/api/v1/webhooks/" + webhook, ADMIN_TOKEN, null).status()).isEqualTo(204);
        assertThat(call("DELETE", "/api/v1/webhooks/" + webhook, ADMIN_TOKEN, null).status()).isEqualTo(404);
        assertThat(dispatcher.dispatchDue()).isZero();
        assertThat(receiver.received()).isEmpty();
    }

    private JsonNode createWebhook(String url, String format, String... types) {
        Reply r = call("POST", "/api/v1/webhooks", ADMIN_TOKEN,
                Map.of("url", url, "format", format, "eventTypes", List.of(types)));
        assertThat(r.status()).as("create webhook: %s", r.body()).isEqualTo(201);
        return r.body();
    }

    private static UUID id(JsonNode webhook) {
        return UUID.fromString(webhook.path("id").asString());
    }

    /**
     * A bare run row; its transitions go through {@link #transition}. CANCELLED so that the scheduler, which runs
     * in the background of the shared context, leaves it alone.
     */
    private UUID insertRun(String name) {
        UUID id = UUID.randomUUID();
        Timestamp now = Timestamp.from(clock.instant());
        jdbc.update("""
                insert into run (id, name, state, state_changed_at, spec, world_size, spares, created_at, created_by)
                values (?, ?, 'CANCELLED', ?, '{}', 1, 0, ?, ?)""", id, name, now, now, RUN_AUTHOR);
        return id;
    }

    /** The run_event row the runs code writes in the transaction of every run transition. */
    private void transition(UUID run, String from, String to) {
        jdbc.update("""
                insert into run_event (run_id, at, from_state, to_state, generation, reason, actor)
                values (?, ?, ?, ?, 0, 'test transition', 'system')""", run, Timestamp.from(clock.instant()), from, to);
    }

    private static List<String> statesOf(List<JsonNode> bodies, UUID run) {
        return bodies.stream().filter(b -> b.path("data").path("runId").asString().equals(run.toString()))
                .map(b -> b.path("data").path("toState").asString()).toList();
    }

    /** The state of the webhook's n-th delivery (oldest first). */
    private String state(UUID webhook, int n) {
        return jdbc.queryForList("select state from webhook_delivery where subscription_id = ? order by id",
                String.class, webhook).get(n);
    }

    private double counter(String outcome) {
        return meters.counter("steadyrun.webhook.deliveries", "outcome", outcome).count();
    }
}
