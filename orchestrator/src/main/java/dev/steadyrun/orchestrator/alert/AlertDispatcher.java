package dev.steadyrun.orchestrator.alert;

import java.net.URI;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.annotation.PreDestroy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Delivers the outbox. A pass claims due deliveries with {@code FOR UPDATE SKIP LOCKED} and a lease
 * ({@code locked_until}) so several replicas can dispatch side by side and a delivery claimed by a replica that died
 * is taken over once the lease passes; the HTTP calls run outside any transaction, in parallel on
 * {@code batch-size} sender threads; each outcome is recorded in a second short transaction. Only the oldest
 * pending delivery of each (subscription, ordering key) is claimable, which keeps a run's events in order; dead
 * letters do not block. Delivery is at least once: a replica that dies between the receiver's answer and the record
 * makes the next one send again, with the same {@code webhook-id}.
 */
@Component
public class AlertDispatcher {

    private static final Logger log = LoggerFactory.getLogger(AlertDispatcher.class);
    private static final int MAX_ERROR = 1000;

    /** A delivery this dispatcher holds the lease of, with what it needs to send it. */
    record Claim(long id, UUID token, int attempts, Instant windowStart, UUID messageId, String type,
            Instant occurredAt, String data, UUID subscriptionId, String url, WebhookFormat format,
            byte[] sealedSecret) {
    }

    /** The outcome of one attempt. */
    record Attempt(Instant at, Integer status, long latencyMs, String error) {
        boolean delivered() {
            return WebhookClient.isSuccess(status);
        }
    }

    private final JdbcTemplate jdbc;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final AlertProperties props;
    private final SecretBox secrets;
    private final DestinationPolicy destinations;
    private final WebhookClient client;
    private final PayloadRenderer renderer;
    private final Counter delivered;
    private final Counter failed;
    private final Counter deadLettered;
    private final Timer latency;
    private final ExecutorService senders;

    AlertDispatcher(JdbcTemplate jdbc, PlatformTransactionManager transactions, Clock clock, AlertProperties props,
            SecretBox secrets, DestinationPolicy destinations, WebhookClient client, PayloadRenderer renderer,
            MeterRegistry meters) {
        this.jdbc = jdbc;
        this.tx = new TransactionTemplate(transactions);
        this.clock = clock;
        this.props = props;
        this.secrets = secrets;
        this.destinations = destinations;
        this.client = client;
        this.renderer = renderer;
        this.delivered = outcome(meters, "delivered");
        this.failed = outcome(meters, "failed");
        this.deadLettered = outcome(meters, "dead_lettered");
        this.latency = Timer.builder("steadyrun.webhook.delivery.latency")
                .description("Time from sending a webhook to its answer (or error)").register(meters);
        AtomicInteger threads = new AtomicInteger();
        this.senders = Executors.newFixedThreadPool(props.batchSize(), r -> {
            Thread t = new Thread(r, "webhook-sender-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    private static Counter outcome(MeterRegistry meters, String outcome) {
        return Counter.builder("steadyrun.webhook.deliveries").tag("outcome", outcome)
                .description("Webhook delivery attempts by outcome (failed: will be retried)").register(meters);
    }

    /**
     * Sends everything due, pass after pass, until nothing is left to claim (failed attempts wait for their
     * backoff, so this ends). Returns the number of attempts made.
     */
    public int dispatchDue() {
        int total = 0;
        List<Claim> batch;
        while (!(batch = claim()).isEmpty()) {
            // a batch holds at most one delivery per ordering key, so its attempts may run side by side: one slow
            // receiver then costs its timeout once per pass, not once per delivery queued behind it
            List<Future<?>> running = new ArrayList<>();
            for (Claim c : batch) {
                running.add(senders.submit(() -> record(c, attempt(c))));
            }
            for (Future<?> f : running) {
                await(f);
            }
            total += batch.size();
        }
        return total;
    }

    private static void await(Future<?> f) {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("webhook dispatch interrupted", e);
        } catch (ExecutionException e) {
            // recording failed (database away): the claim's lease runs out and the delivery is attempted again
            throw new IllegalStateException("recording a webhook attempt failed", e.getCause());
        }
    }

    @PreDestroy
    void close() {
        senders.shutdownNow();
    }

    List<Claim> claim() {
        Instant now = clock.instant();
        UUID token = UUID.randomUUID();
        Timestamp ts = Timestamp.from(now);
        List<Claim> claims = tx.execute(status -> jdbc.query("""
                with due as (
                    select d.id from webhook_delivery d
                    join webhook_subscription s on s.id = d.subscription_id
                    where d.state = 'PENDING' and d.next_attempt_at <= ?
                      and (d.locked_until is null or d.locked_until <= ?)
                      and s.disabled_at is null
                      and not exists (select 1 from webhook_delivery o
                                      where o.state = 'PENDING' and o.subscription_id = d.subscription_id
                                        and o.ordering_key = d.ordering_key and o.id < d.id)
                    order by d.id
                    limit ?
                    for update of d skip locked)
                update webhook_delivery d set locked_until = ?, locked_by = ?
                from due, alert_event e, webhook_subscription s
                where d.id = due.id and e.id = d.event_id and s.id = d.subscription_id
                returning d.id, d.attempts, d.window_start, e.message_id, e.type, e.occurred_at, e.data::text,
                          s.id as subscription_id, s.url, s.format, s.secret_ciphertext
                """, (rs, i) -> new Claim(rs.getLong("id"), token, rs.getInt("attempts"),
                        rs.getTimestamp("window_start").toInstant(), rs.getObject("message_id", UUID.class),
                        rs.getString("type"), rs.getTimestamp("occurred_at").toInstant(), rs.getString("data"),
                        rs.getObject("subscription_id", UUID.class), rs.getString("url"),
                        WebhookFormat.valueOf(rs.getString("format")), rs.getBytes("secret_ciphertext")),
                ts, ts, props.batchSize(), Timestamp.from(now.plus(props.claimLease())), token));
        return claims == null ? List.of() : claims.stream().sorted((a, b) -> Long.compare(a.id, b.id)).toList();
    }

    /** One HTTP attempt; never throws. */
    Attempt attempt(Claim c) {
        Instant at = clock.instant();
        URI url = URI.create(c.url());
        DestinationPolicy.Destination destination = destinations.check(url);
        if (destination.denial() != null) {
            return new Attempt(at, null, 0, "not sent: " + destination.denial());
        }
        String body = renderer.render(c.format(), c.type(), c.occurredAt(), c.data());
        String id = "msg_" + c.messageId();
        long timestamp = at.getEpochSecond();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Content-Type", "application/json");
        headers.put("User-Agent", "Steadyrun-Webhooks/1");
        headers.put("webhook-id", id);
        headers.put("webhook-timestamp", Long.toString(timestamp));
        try {
            headers.put("webhook-signature",
                    StandardWebhooks.sign(secrets.open(c.sealedSecret(), c.subscriptionId()), id, timestamp, body));
        } catch (RuntimeException e) {
            return new Attempt(at, null, 0, "not sent: " + e.getMessage());
        }
        long start = System.nanoTime();
        WebhookClient.Result result = client.post(url, destination.address(), headers, body);
        long nanos = System.nanoTime() - start;
        latency.record(nanos, TimeUnit.NANOSECONDS);
        String error = result.error();
        if (error == null && !result.delivered()) {
            // never the receiver's body: it is the receiver's text, shown to every viewer of the deliveries
            error = "HTTP " + result.status() + ": " + refusal(result.status());
        }
        return new Attempt(at, result.status(), TimeUnit.NANOSECONDS.toMillis(nanos), truncate(error));
    }

    /** A short fixed reason for a non-2xx status. */
    static String refusal(int status) {
        if (status >= 300 && status < 400) {
            return "redirect (not followed)";
        }
        if (status == 410) {
            return "gone (the webhook is disabled)";
        }
        return status >= 400 && status < 500 ? "refused by the receiver" : status >= 500 ? "receiver error"
                : "unexpected status";
    }

    void record(Claim c, Attempt a) {
        Instant now = clock.instant();
        int attempt = c.attempts() + 1;
        tx.executeWithoutResult(status -> {
            jdbc.update("""
                    insert into webhook_attempt (delivery_id, attempt, at, status_code, latency_ms, error)
                    values (?, ?, ?, ?, ?, ?)""",
                    c.id(), attempt, Timestamp.from(a.at()), a.status(), a.latencyMs(), a.error());
            DeliveryState state;
            Instant next = null;
            if (a.delivered()) {
                state = DeliveryState.DELIVERED;
            } else if (Integer.valueOf(410).equals(a.status())) {
                state = DeliveryState.DEAD;
                disable(c.subscriptionId(), now);
            } else {
                next = now.plus(backoff(props.initialBackoff(), props.maxBackoff(), attempt));
                state = next.isAfter(c.windowStart().plus(props.maxAge())) ? DeliveryState.DEAD : DeliveryState.PENDING;
            }
            int updated = jdbc.update("""
                    update webhook_delivery set state = ?, attempts = attempts + 1, next_attempt_at = coalesce(?,
                        next_attempt_at), delivered_at = ?, last_error = ?, locked_until = null, locked_by = null
                    where id = ? and locked_by = ?""",
                    state.name(), next == null ? null : Timestamp.from(next),
                    a.delivered() ? Timestamp.from(now) : null, a.error(), c.id(), c.token());
            if (updated == 0) {
                // our lease ran out and another dispatcher took the delivery over: it records its own attempt
                log.warn("Webhook delivery {} was taken over by another dispatcher; attempt {} logged only",
                        c.id(), attempt);
                return;
            }
            switch (state) {
                case DELIVERED -> delivered.increment();
                case DEAD -> {
                    deadLettered.increment();
                    log.warn("Webhook delivery {} (subscription {}) dead-lettered after {} attempts: {}", c.id(),
                            c.subscriptionId(), attempt, a.error());
                }
                case PENDING -> failed.increment();
            }
        });
    }

    /** A receiver that answers 410 Gone asks to be forgotten: stop sending, and dead-letter what is queued. */
    private void disable(UUID subscriptionId, Instant now) {
        jdbc.update("update webhook_subscription set disabled_at = ?, disabled_reason = ? where id = ?",
                Timestamp.from(now), "receiver answered 410 Gone", subscriptionId);
        jdbc.update("""
                update webhook_delivery set state = 'DEAD', last_error = 'subscription disabled (410 Gone)'
                where subscription_id = ? and state = 'PENDING' and (locked_until is null or locked_until <= ?)""",
                subscriptionId, Timestamp.from(now));
        log.warn("Webhook subscription {} disabled: its receiver answered 410 Gone", subscriptionId);
    }

    /**
     * The wait after the given failed attempt (1-based): exponential from {@code initial}, capped, with "equal
     * jitter" (½ to 1× of it) so that receivers coming back are not hit by every replica's retries at once.
     */
    static Duration backoff(Duration initialBackoff, Duration maxBackoff, int attempt) {
        long initial = initialBackoff.toMillis();
        long cap = maxBackoff.toMillis();
        long exp = Math.min(cap, initial << Math.min(attempt - 1, 30));
        long half = exp / 2;
        return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(exp - half + 1));
    }

    private static String truncate(String s) {
        return s == null || s.length() <= MAX_ERROR ? s : s.substring(0, MAX_ERROR);
    }
}
