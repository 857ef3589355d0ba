package dev.steadyrun.orchestrator.alert;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/** The webhook API's request and response bodies. */
final class WebhookDtos {

    private WebhookDtos() {
    }

    /**
     * @param name       a label for people (default: the URL's host); one line: it goes into chat messages
     * @param eventTypes wire names such as {@code node.failed}
     * @param format     {@code json} (default: the Standard Webhooks envelope) or {@code slack}
     */
    record CreateWebhook(
            @Size(max = 200) @Pattern(regexp = "\\P{Cntrl}*",
                    message = "must not contain control characters (line breaks, tabs)") String name,
            @NotBlank @Size(max = 2000) String url,
            @NotEmpty @Size(max = 20) List<String> eventTypes, String format) {
    }

    record Webhook(UUID id, String name, String url, List<String> eventTypes, String format, Instant createdAt,
            String createdBy, Instant disabledAt, String disabledReason) {
    }

    /** The create response: the only time the signing secret is shown. */
    record CreatedWebhook(UUID id, String name, String url, List<String> eventTypes, String format,
            Instant createdAt, String createdBy, String secret) {
    }

    record Attempt(int attempt, Instant at, Integer statusCode, long latencyMs, String error) {
    }

    /** @param webhookId the {@code webhook-id} header value, the same on every attempt */
    record Delivery(long id, String webhookId, String eventType, Instant occurredAt, String state, int attempts,
            Instant nextAttemptAt, Instant deliveredAt, String lastError, List<Attempt> attemptLog) {
    }
}
