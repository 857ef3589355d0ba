package dev.steadyrun.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.random.RandomGeneratorFactory;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.LeaseTimings;

class BackoffTest {

    private final LeaseTimings timings = LeaseTimings.forHeartbeat(Duration.ofMillis(1000));
    private final long cap = timings.backoffMax().toMillis(); // one lease, 2.5 s
    private final Backoff backoff = new Backoff(RandomGeneratorFactory.of("L64X128MixRandom").create(7));

    @Test
    void healthyBeatsStayWithinTheJitterBand() {
        for (int i = 0; i < 1000; i++) {
            assertThat(backoff.healthy(timings).toMillis()).isBetween(800L, 1200L);
        }
    }

    @Test
    void failuresDoubleTheCeilingUpToTheCap() {
        long[] ceilings = {1000, 2000, cap, cap, cap};
        for (int failures = 1; failures <= ceilings.length; failures++) {
            long ceiling = ceilings[failures - 1];
            for (int i = 0; i < 200; i++) {
                assertThat(backoff.afterFailures(failures, timings).toMillis())
                        .as("failure %d", failures).isBetween(ceiling / 2, ceiling);
            }
        }
        assertThat(backoff.afterFailures(1_000_000, timings).toMillis()).isBetween(cap / 2, cap);
    }

    @Test
    void jitterSpreadsAFleetThatFailedTogether() {
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < 1000; i++) {
            long d = backoff.afterFailures(6, timings).toMillis();
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        assertThat(max - min).as("spread over the upper half of the cap").isGreaterThan(cap * 2 / 5);
    }
}
