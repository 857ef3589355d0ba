package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import org.junit.jupiter.api.Test;

class ProgressTest {

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void showsRatesAndEtaAndRedrawsOnlyAfterTheInterval() {
        ManualClock clock = new ManualClock();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), clock, Duration.ofSeconds(1));
        p.update(10, 1_000_000, 4_000_000);
        assertThat(bytes.size()).isZero();
        clock.now = clock.now.plusSeconds(2);
        p.update(5000, 2_000_000, 8_000_000);           // 1 MB/s, 6 MB left
        p.finish();
        assertThat(bytes.toString(StandardCharsets.UTF_8))
                .isEqualTo("\r5,000 docs  2,500 docs/s  1.0 MB/s   25%  ETA 0:00:06" + System.lineSeparator());
    }
}
