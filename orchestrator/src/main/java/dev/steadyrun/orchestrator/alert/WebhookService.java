package dev.steadyrun.orchestrator.alert;

import java.net.URI;
import java.net.URISyntaxException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.alert.WebhookDtos.Attempt;
import dev.steadyrun.orchestrator.alert.WebhookDtos.CreateWebhook;
import dev.steadyrun.orchestrator.alert.WebhookDtos.CreatedWebhook;
import dev.steadyrun.orchestrator.alert.WebhookDtos.Delivery;
import dev.steadyrun.orchestrator.alert.WebhookDtos.Webhook;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.NotFoundException;

/**
 * Webhook subscriptions and their delivery log. Plain SQL rather than JPA here: the outbox, its triggers and the
 * dispatcher's claim query are SQL anyway, and subscriptions are read by them.
 */
@Service
class WebhookService {

    private static final String WEBHOOK_COLUMNS = "id, name, url, event_types, format, created_at, created_by, "
            + "disabled_at, disabled_reason";

    private final JdbcTemplate jdbc;
    private final Clock clock;
    private final SecretBox secrets;
    private final DestinationPolicy destinations;

    WebhookService(JdbcTemplate jdbc, Clock clock, SecretBox secrets, DestinationPolicy destinations) {
        this.jdbc = jdbc;
        this.clock = clock;
        this.secrets = secrets;
        this.destinations = destinations;
    }

    @Transactional
    CreatedWebhook create(CreateWebhook request, String actor) {
        URI url = checkUrl(request.url());
        destinations.denial(url).ifPresent(reason -> {
            throw new BadRequestException("url", reason);
        });
        List<String> types = checkEventTypes(request.eventTypes());
        WebhookFormat format = checkFormat(request.format());
        secrets.requireKey();
        UUID id = UUID.randomUUID();
        String secret = StandardWebhooks.newSecret();
        String name = request.name() == null || request.name().isBlank() ? url.getHost() : request.name().trim();
        Instant now = clock.instant();
        jdbc.update("""
                insert into webhook_subscription (id, name, url, event_types, format, secret_ciphertext, created_at,
                    created_by) values (?, ?, ?, string_to_array(?, ','), ?, ?, ?, ?)""",
                id, name, url.toString(), String.join(",", types), format.name(), secrets.seal(secret, id),
                Timestamp.from(now), actor);
        return new CreatedWebhook(id, name, url.toString(), types, format.name().toLowerCase(Locale.ROOT), now, actor,
                secret);
    }

    @Transactional(readOnly = true)
    List<Webhook> list() {
        return jdbc.query("select " + WEBHOOK_COLUMNS + " from webhook_subscription order by created_at, id",
                WebhookService::webhook);
    }

    @Transactional(readOnly = true)
    Webhook get(UUID id) {
        return jdbc.query("select " + WEBHOOK_COLUMNS + " from webhook_subscription where id = ?",
                WebhookService::webhook, id).stream().findFirst().orElseThrow(() -> notFound(id));
    }

    /** Deletes the subscription with its queued deliveries and their log. */
    @Transactional
    void delete(UUID id) {
        if (jdbc.update("delete from webhook_subscription where id = ?", id) == 0) {
            throw notFound(id);
        }
    }

    /** Queues a {@code webhook.test} event for this subscription only; it goes out like any other. */
    @Transactional
    Delivery sendTest(UUID id) {
        Webhook webhook = get(id);
        if (webhook.disabledAt() != null) {
            throw new ConflictException("webhook " + id + " is disabled: " + webhook.disabledReason());
        }
        Long eventId = jdbc.queryForObject("""
                insert into alert_event (type, occurred_at, data, subscription_id)
                values (?, ?, jsonb_build_object('webhookId', ?::text, 'webhookName', ?::text), ?) returning id""",
                Long.class, AlertEventType.TEST.wireName(), Timestamp.from(clock.instant()), id.toString(),
                webhook.name(), id);
        return deliveries("d.event_id = ?", eventId, 1).get(0);
    }

    @Transactional(readOnly = true)
    List<Delivery> deliveries(UUID webhookId, int limit) {
        get(webhookId);
        return deliveries("d.subscription_id = ?", webhookId, limit);
    }

    /**
     * Sends a delivered or dead-lettered delivery again, with the same {@code webhook-id} and body and a fresh
     * retry window. It becomes the oldest pending delivery of its ordering key, so later ones wait for it.
     */
    @Transactional
    Delivery redeliver(long deliveryId) {
        List<Map<String, Object>> rows = jdbc.queryForList("""
                select d.state, s.disabled_at from webhook_delivery d
                join webhook_subscription s on s.id = d.subscription_id where d.id = ? for update of d""",
                deliveryId);
        if (rows.isEmpty()) {
            throw new NotFoundException("webhook delivery " + deliveryId + " does not exist");
        }
        if (rows.get(0).get("disabled_at") != null) {
            throw new ConflictException("webhook delivery " + deliveryId + " belongs to a disabled webhook");
        }
        if (!DeliveryState.valueOf((String) rows.get(0).get("state")).canBecome(DeliveryState.PENDING)) {
            throw new ConflictException("webhook delivery " + deliveryId + " is still pending: it will be retried");
        }
        Timestamp now = Timestamp.from(clock.instant());
        jdbc.update("""
                update webhook_delivery set state = 'PENDING', next_attempt_at = ?, window_start = ?,
                    delivered_at = null, locked_until = null, locked_by = null where id = ?""",
                now, now, deliveryId);
        return deliveries("d.id = ?", deliveryId, 1).get(0);
    }

    private List<Delivery> deliveries(String where, Object arg, int limit) {
        List<Delivery> found = jdbc.query("""
                select d.id, e.message_id, e.type, e.occurred_at, d.state, d.attempts, d.next_attempt_at,
                       d.delivered_at, d.last_error
                from webhook_delivery d join alert_event e on e.id = d.event_id
                where %s order by d.id desc limit ?""".formatted(where),
                (rs, i) -> new Delivery(rs.getLong("id"), "msg_" + rs.getString("message_id"), rs.getString("type"),
                        instant(rs, "occurred_at"), rs.getString("state"), rs.getInt("attempts"),
                        "PENDING".equals(rs.getString("state")) ? instant(rs, "next_attempt_at") : null,
                        instant(rs, "delivered_at"), rs.getString("last_error"), new ArrayList<>()),
                arg, limit);
        if (found.isEmpty()) {
            return found;
        }
        Map<Long, List<Attempt>> byDelivery = new HashMap<>();
        found.forEach(d -> byDelivery.put(d.id(), d.attemptLog()));
        jdbc.query("""
                select delivery_id, attempt, at, status_code, latency_ms, error from webhook_attempt
                where delivery_id in (%s) order by delivery_id, id""".formatted(
                        String.join(",", Collections.nCopies(byDelivery.size(), "?"))),
                rs -> {
                    byDelivery.get(rs.getLong("delivery_id")).add(new Attempt(rs.getInt("attempt"),
                            instant(rs, "at"), (Integer) rs.getObject("status_code"), rs.getLong("latency_ms"),
                            rs.getString("error")));
                },
                byDelivery.keySet().toArray());
        return found;
    }

    private static URI checkUrl(String text) {
        URI url;
        try {
            url = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw new BadRequestException("url", "not a valid URL: " + e.getReason());
        }
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new BadRequestException("url", "must be an absolute http or https URL");
        }
        if (url.getHost() == null) {
            throw new BadRequestException("url", "has no host");
        }
        if (url.getRawUserInfo() != null) {
            throw new BadRequestException("url", "must not carry credentials (receivers verify the signature)");
        }
        if (url.getRawFragment() != null) {
            throw new BadRequestException("url", "must not have a fragment");
        }
        return url;
    }

    private static List<String> checkEventTypes(List<String> requested) {
        Set<String> types = new LinkedHashSet<>();
        List<String> known = AlertEventType.subscribable();
        for (int i = 0; i < requested.size(); i++) {
            String t = requested.get(i);
            if (t == null || !known.contains(t)) {
                throw new BadRequestException("eventTypes[" + i + "]",
                        "unknown event type '" + t + "'; known: " + String.join(", ", known));
            }
            types.add(t);
        }
        return List.copyOf(types);
    }

    private static WebhookFormat checkFormat(String format) {
        if (format == null) {
            return WebhookFormat.JSON;
        }
        return Arrays.stream(WebhookFormat.values()).filter(f -> f.name().equalsIgnoreCase(format)).findFirst()
                .orElseThrow(() -> new BadRequestException("format", "must be 'json' or 'slack'"));
    }

    private static Webhook webhook(ResultSet rs, int row) throws SQLException {
        return new Webhook(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("url"),
                List.of((String[]) rs.getArray("event_types").getArray()),
                rs.getString("format").toLowerCase(Locale.ROOT), instant(rs, "created_at"),
                rs.getString("created_by"), instant(rs, "disabled_at"), rs.getString("disabled_reason"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    private static NotFoundException notFound(UUID id) {
        return new NotFoundException("webhook " + id + " does not exist");
    }
}
