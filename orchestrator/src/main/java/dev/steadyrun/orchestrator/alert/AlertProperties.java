package dev.steadyrun.orchestrator.alert;

import java.time.Duration;
import java.util.List;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Alerting webhook settings ({@code steadyrun.alerts.*}); the defaults live here and nowhere else.
 *
 * @param secretKey          base64 of a 16, 24 or 32 byte AES key that encrypts the signing secrets at rest; without
 *                           it webhooks cannot be created (the rest of the orchestrator works)
 * @param connectTimeout     TCP connect timeout to a receiver
 * @param readTimeout        how long a receiver may take to answer (headers and body)
 * @param maxResponseSize    at most this much of a response body is read; the rest is dropped with the connection
 * @param initialBackoff     delay before the first retry; doubled per attempt, with jitter
 * @param maxBackoff         the longest delay between two attempts
 * @param maxAge             retries stop after this long (from the event, or from a redelivery): dead letter
 * @param dispatchEnabled    run the dispatcher loop in this process (off in tests, which call it directly)
 * @param pollInterval       pause between two dispatcher passes
 * @param batchSize          deliveries claimed per pass
 * @param claimLease         how long a claimed delivery stays reserved for its dispatcher; after that another
 *                           replica takes it over (the first one died). A batch's attempts run in parallel, so it
 *                           must cover one attempt (connect + read timeout) with room to record it
 * @param allowedPrivateCidrs private, loopback and link-local ranges that destinations may use anyway (on-prem
 *                           receivers); everything private is denied by default
 * @param deniedCidrs        ranges never allowed, public or not (wins over the allow-list)
 * @param retention          events (with their deliveries and attempt log) older than this are deleted, unless a
 *                           delivery of theirs is still pending
 * @param retentionInterval  how often the retention sweep runs
 */
@Validated
@ConfigurationProperties("steadyrun.alerts")
public record AlertProperties(
        String secretKey,
        @NotNull @DefaultValue("5s") Duration connectTimeout,
        @NotNull @DefaultValue("10s") Duration readTimeout,
        @NotNull @DefaultValue("64KB") DataSize maxResponseSize,
        @NotNull @DefaultValue("10s") Duration initialBackoff,
        @NotNull @DefaultValue("1h") Duration maxBackoff,
        @NotNull @DefaultValue("24h") Duration maxAge,
        @DefaultValue("true") boolean dispatchEnabled,
        @NotNull @DefaultValue("1s") Duration pollInterval,
        @Min(1) @Max(1000) @DefaultValue("10") int batchSize,
        @NotNull @DefaultValue("1m") Duration claimLease,
        @NotNull @DefaultValue List<String> allowedPrivateCidrs,
        @NotNull @DefaultValue List<String> deniedCidrs,
        @NotNull @DefaultValue("30d") Duration retention,
        @NotNull @DefaultValue("1h") Duration retentionInterval) {

    public AlertProperties {
        if (claimLease != null && connectTimeout != null && readTimeout != null
                && claimLease.compareTo(connectTimeout.plus(readTimeout).multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("steadyrun.alerts.claim-lease (" + claimLease
                    + ") must be at least twice connect-timeout + read-timeout");
        }
    }
}
