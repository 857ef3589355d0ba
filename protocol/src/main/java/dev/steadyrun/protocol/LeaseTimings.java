package dev.steadyrun.protocol;

import java.time.Duration;
import java.util.Objects;

/**
 * The timing contract between orchestrator and agent, defined once for both sides.
 *
 * <p>An agent renews its lease every {@link #heartbeatInterval()}, which is 2/5 of the lease so that
 * one renewal may be lost before the lease runs out. The orchestrator
 * stamps every renewal with its own clock; it never trusts the node's clock.
 *
 * @param leaseDuration     how long one renewal keeps a node alive
 * @param heartbeatInterval how often the agent renews (2/5 of the lease)
 * @param quietGrace        after the lease ran out, how long a node that had reported stays SUSPECT before FAILED
 * @param neverReportedGrace how long a registered node may take to send its first heartbeat
 * @param backoffMax        the cap of the agent's exponential backoff while the orchestrator is unreachable
 */
public record LeaseTimings(Duration leaseDuration, Duration heartbeatInterval, Duration quietGrace,
                           Duration neverReportedGrace, Duration backoffMax) {

    /**
     * Production defaults: 1 s heartbeats, so a lost node turns SUSPECT (and its run starts recovering) 2.5 s after
     * its last heartbeat, and FAILED after 8.5 s.
     */
    public static final LeaseTimings DEFAULT = forHeartbeat(Duration.ofSeconds(1));

    /**
     * The longest heartbeat interval an orchestrator hands out, however large its fleet (Kubernetes renews node
     * leases every 10 s at 5,000 nodes). Beyond it a bigger fleet needs a faster orchestrator, not slower
     * detection: without a cap, registrations alone could stretch every node's lease without bound.
     */
    public static final Duration MAX_HEARTBEAT_INTERVAL = Duration.ofSeconds(10);

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
     * Timings derived from one heartbeat interval: lease = 2.5 beats, quiet grace = 6 beats, first report 30 beats,
     * backoff cap 2.5 beats (one lease). A 2.5-beat lease tolerates one lost renewal and still calls a lost node
     * within 3 s at 1 s beats (issue 9's target; a lost rank stops its whole run, so waiting longer costs every
     * rank). The backoff cap stays well under lease + quiet grace so that an agent retrying at its cap reaches a
     * restarted orchestrator before that orchestrator's restored grace runs out.
     */
    public static LeaseTimings forHeartbeat(Duration heartbeat) {
        Duration lease = heartbeat.multipliedBy(5).dividedBy(2);
        return new LeaseTimings(lease, heartbeat, heartbeat.multipliedBy(6), heartbeat.multipliedBy(30), lease);
    }
}
