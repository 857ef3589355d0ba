package dev.steadyrun.orchestrator;

import java.time.Instant;

import org.springframework.boot.flyway.autoconfigure.FlywayMigrationStrategy;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;

/**
 * The test context's extras: a mutable clock in place of the system clock, a stepped ticker for the database lock,
 * and a fresh schema per run.
 */
@TestConfiguration(proxyBeanMethods = false)
public class TestSupportConfig {

    @Bean
    @Primary
    MutableClock mutableClock() {
        return new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    }

    /** The database lock's time: still, unless a test steps it (the lock checks itself in real time meanwhile). */
    @Bean
    @Primary
    StepTicker stepTicker() {
        return new StepTicker();
    }

    /** Start every test JVM on an empty schema so that nodes of earlier runs do not join the fleet. */
    @Bean
    FlywayMigrationStrategy cleanThenMigrate() {
        return flyway -> {
            flyway.clean();
            flyway.migrate();
        };
    }
}
