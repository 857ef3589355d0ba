package dev.steadyrun.protocol;

import java.time.Duration;
import java.util.Objects;

/**
 * The timing contract between orchestrator and agent, defined once for both sides.
 *
 * <p>An agent renews its lease every {@link #heartbeatInterval()}, which is a quarter of the lease so that
 * three renewals may be lost before the lease runs out (Kubernetes' node-lease rule). The orchestrator
 * stamps every renewal with its own clock; it never trusts the node's clock.
 *
 * @param leaseDuration     how long one renewal keeps a node alive
 * @param heartbeatInterval how often the agent renews (a quarter of the lease)
 * @param quietGrace        after the lease ran out, how long a node that had reported stays SUSPECT before FAILED
 * @param neverReportedGrace how long a registered node may take to send its first heartbeat
 * @param backoffMax        the cap of the agent's exponential backoff while the orchestrator is unreachable
 */
public record LeaseTimings(Duration leaseDuration, Duration heartbeatInterval, Duration quietGrace,
                           Duration neverReportedGrace, Duration backoffMax) {

    /** Production defaults: 1 s heartbeats, so a lost node turns SUSPECT after 4 s and FAILED after 10 s. */
    public static final LeaseTimings DEFAULT = forHeartbeat(Duration.ofSeconds(1));

    /** Share of the heartbeat interval used as random jitter, so a thousand agents do not beat in step. */
    public static final double JITTER = 0.2;

    public LeaseTimings {
        Objects.requireNonNull(leaseDuration, "leaseDuration");
        Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
        Objects.requireNonNull(quietGrace, "quietGrace");
        Objects.requireNonNull(neverReportedGrace, "neverReportedGrace");
        Objects.requireNonNull(backoffMax, "backoffMax");
        if (heartbeatInterval.isZero() || heartbeatInterval.isNegative()) {
            throw new IllegalArgumentException("heartbeatInterval must be positive");
        }
        if (leaseDuration.compareTo(heartbeatInterval) < 0) {
            throw new IllegalArgumentException("leaseDuration must be at least heartbeatInterval");
        }
    }

    /**
     * Timings derived from one heartbeat interval: lease = 4 beats, quiet grace = 6 beats, first report 30 beats,
     * backoff cap 4 beats (one lease). The backoff cap stays well under lease + quiet grace so that an agent retrying
     * at its cap reaches a restarted orchestrator before that orchestrator's restored grace runs out.
     */
    public static LeaseTimings forHeartbeat(Duration heartbeat) {
        return new LeaseTimings(heartbeat.multipliedBy(4), heartbeat, heartbeat.multipliedBy(6),
                heartbeat.multipliedBy(30), heartbeat.multipliedBy(4));
    }
}
