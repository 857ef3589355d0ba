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
 * @param lockCheck         how often the active orchestrator confirms its lock and a standby tries to take the lock:
 *                          a standby takes over within about this long after the active one died
 * @param lockConfirmWithin the active orchestrator serves agents only while its lock was confirmed this recently:
 *                          past it (a check that fails or hangs) agent endpoints answer 503, since another
 *                          orchestrator may hold the database; longer than {@code lockCheck}
 */
@Validated
@ConfigurationProperties("steadyrun.database")
public record DatabaseProperties(
        @DefaultValue("false") boolean embeddedFallback,
        @NotNull @DefaultValue("1s") Duration probeTimeout,
        @DefaultValue("true") boolean createDatabase,
        @NotNull @DefaultValue("1s") Duration lockCheck,
        @NotNull @DefaultValue("10s") Duration lockConfirmWithin) {

    public DatabaseProperties {
        if (lockCheck != null && lockConfirmWithin != null && (lockCheck.toMillis() < 100
                || lockConfirmWithin.compareTo(lockCheck) <= 0)) {
            throw new IllegalArgumentException("steadyrun.database.lock-check must be at least 100ms and "
                    + "lock-confirm-within longer than it, were " + lockCheck + " and " + lockConfirmWithin);
        }
    }
}
