package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class BackoffTest {

    private static final Duration INITIAL = Duration.ofSeconds(10);
    private static final Duration CAP = Duration.ofHours(1);

    @Test
    void doublesPerAttemptWithinHalfToFullOfTheStep() {
        for (int attempt = 1; attempt <= 8; attempt++) {
            Duration step = INITIAL.multipliedBy(1L << (attempt - 1));
            Duration wait = AlertDispatcher.backoff(INITIAL, CAP, attempt);
            assertThat(wait).as("attempt %d", attempt).isBetween(step.dividedBy(2), step);
        }
    }

    @Test
    void isCappedAndNeverOverflows() {
        for (int attempt : new int[] {10, 30, 64, 1000}) {
            assertThat(AlertDispatcher.backoff(INITIAL, CAP, attempt)).isBetween(CAP.dividedBy(2), CAP);
        }
    }

    @Test
    void isJittered() {
        Set<Duration> seen = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            seen.add(AlertDispatcher.backoff(INITIAL, CAP, 5));
        }
        assertThat(seen).hasSizeGreaterThan(1);
    }
}
