package dev.steadyrun.orchestrator.alert;

import java.time.Duration;
import java.util.List;

import org.springframework.util.unit.DataSize;

/** {@link AlertProperties} for plain unit tests, with the defaults except what a test sets. */
final class AlertTestProperties {

    private AlertTestProperties() {
    }

    static AlertProperties with(List<String> allowedPrivate, List<String> denied, DataSize maxResponse) {
        return new AlertProperties(null, Duration.ofSeconds(1), Duration.ofSeconds(2), maxResponse,
                Duration.ofSeconds(10), Duration.ofHours(1), Duration.ofHours(24), false, Duration.ofSeconds(1), 10,
                Duration.ofMinutes(5), allowedPrivate, denied, Duration.ofDays(30), Duration.ofHours(1));
    }
}
