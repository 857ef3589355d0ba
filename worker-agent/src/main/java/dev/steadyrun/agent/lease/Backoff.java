package dev.steadyrun.agent.lease;

import java.time.Duration;
import java.util.random.RandomGenerator;

import dev.steadyrun.protocol.LeaseTimings;

/**
 * When to call the orchestrator next. Healthy: every heartbeat interval (a quarter of the lease) with ±
 * {@link LeaseTimings#JITTER} jitter, so a fleet does not beat in step. Unreachable: capped exponential backoff
 * from one interval up to {@link LeaseTimings#backoffMax()}, with "equal jitter" (half fixed, half random) so a
 * thousand agents that lost the orchestrator together do not all come back in the same millisecond.
 */
public final class Backoff {

    private final RandomGenerator random;

    public Backoff(RandomGenerator random) {
        this.random = random;
    }

    public Duration healthy(LeaseTimings timings) {
        long base = timings.heartbeatInterval().toMillis();
        double factor = 1 + LeaseTimings.JITTER * (2 * random.nextDouble() - 1);
        return Duration.ofMillis(Math.max(1, Math.round(base * factor)));
    }

    /** The wait after {@code failures} consecutive failed calls (1 = the first failure). */
    public Duration afterFailures(int failures, LeaseTimings timings) {
        long base = timings.heartbeatInterval().toMillis();
        long cap = Math.max(base, timings.backoffMax().toMillis());
        int doublings = Math.min(Math.max(failures - 1, 0), 30);
        long ceiling = Math.min(cap, base << doublings);
        long half = ceiling / 2;
        return Duration.ofMillis(Math.max(1, half + (long) (random.nextDouble() * (ceiling - half))));
    }
}
