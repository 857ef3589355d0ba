package dev.steadyrun.orchestrator.database;

import java.time.Duration;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Local-run database help and the orchestrator lock's timing ({@code steadyrun.database.*}).
 *
 * @param embeddedFallback  start an embedded PostgreSQL when nothing answers on the configured host:port
 * @param probeTimeout      how long to wait for the configured server to accept a connection
 * @param createDatabase    create the configured database on the server when it does not exist
 * @param lockCheckInterval how often the orchestrator lock is confirmed on its connection
 * @param lockConfirmWithin the lock must have been confirmed this recently for agents to be served: past it (a check
 *                          that fails or hangs) agent endpoints answer 503, since another orchestrator may hold the
 *                          database; more than one check interval
 */
@Validated
@ConfigurationProperties("steadyrun.database")
public record DatabaseProperties(
        @DefaultValue("false") boolean embeddedFallback,
        @NotNull @DefaultValue("1s") Duration probeTimeout,
        @DefaultValue("true") boolean createDatabase,
        @NotNull @DefaultValue("3s") Duration lockCheckInterval,
        @NotNull @DefaultValue("10s") Duration lockConfirmWithin) {

    public DatabaseProperties {
        if (lockCheckInterval != null && lockConfirmWithin != null && (lockCheckInterval.toMillis() < 100
                || lockConfirmWithin.compareTo(lockCheckInterval) <= 0)) {
            throw new IllegalArgumentException("steadyrun.database.lock-check-interval must be at least 100ms and "
                    + "lock-confirm-within longer than it, were " + lockCheckInterval + " and " + lockConfirmWithin);
        }
    }
}
