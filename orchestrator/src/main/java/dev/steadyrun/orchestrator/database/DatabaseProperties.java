package dev.steadyrun.orchestrator.database;

import java.time.Duration;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Local-run database help ({@code steadyrun.database.*}).
 *
 * @param embeddedFallback start an embedded PostgreSQL when nothing answers on the configured host:port
 * @param probeTimeout     how long to wait for the configured server to accept a connection
 * @param createDatabase   create the configured database on the server when it does not exist
 * @param lockCheck        how often the active orchestrator checks its lock's connection and a standby tries to
 *                         take the lock: a standby takes over within about this long after the active one died
 */
@Validated
@ConfigurationProperties("steadyrun.database")
public record DatabaseProperties(
        @DefaultValue("false") boolean embeddedFallback,
        @NotNull @DefaultValue("1s") Duration probeTimeout,
        @DefaultValue("true") boolean createDatabase,
        @NotNull @DefaultValue("1s") Duration lockCheck) {
}
