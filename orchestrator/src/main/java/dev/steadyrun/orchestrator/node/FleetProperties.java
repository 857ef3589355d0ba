package dev.steadyrun.orchestrator.node;

import java.time.Duration;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

import dev.steadyrun.protocol.LeaseTimings;

/**
 * Fleet liveness settings ({@code steadyrun.fleet.*}); the defaults live here and nowhere else.
 *
 * <p><b>Adaptive heartbeat interval.</b> The fleet's total heartbeat rate is kept under
 * {@code maxHeartbeatsPerSecond}: a fleet of {@code n} nodes is told to beat every
 * {@code max(heartbeatInterval, n / maxHeartbeatsPerSecond)} (rounded up to 100 ms so the answer only changes
 * when the fleet grows or shrinks noticeably), never longer than {@link LeaseTimings#MAX_HEARTBEAT_INTERVAL}: past
 * that the budget is exceeded rather than detection slowed further. Only live nodes count ({@link LeaseTable}: those
 * that heartbeat and are not FAILED), so names that merely registered stretch nobody's lease. A stretched interval brings its own lease and graces
 * ({@link LeaseTimings#forHeartbeat}), never shorter than the configured ones. This is Kubernetes' answer for
 * large clusters (10 s node-lease renewals for 5,000 nodes): detection slows down in proportion to the fleet
 * instead of the orchestrator falling over. Each node is judged by the timings it was last handed
 * ({@link LeaseRecord#timings}), so a node told to beat every 7 s is not failed after 4 s.
 *
 * @param heartbeatInterval     how often agents renew in a fleet within budget; the other lease timings derive
 *                              from it ({@link LeaseTimings#forHeartbeat}) unless set below
 * @param leaseDuration         override of the derived lease
 * @param quietGrace            override: how long a silent node stays SUSPECT before FAILED
 * @param neverReportedGrace    override: how long a registered node may take for its first heartbeat
 * @param maxHeartbeatsPerSecond the fleet's heartbeat budget; the default fits 2 cores (measured at
 *                              0.3-0.8 ms of orchestrator CPU per heartbeat, see {@code bench/heartbeat.sh})
 * @param massFailureThreshold  share of the fleet silent in one sweep above which nodes are not failed and a
 *                              fleet incident is raised instead (the orchestrator is more likely cut off)
 * @param massFailureMinFleet   the guard applies only to fleets at least this large (a 2-node fleet losing one
 *                              node is a node failure, not a partition)
 * @param flushInterval         how often batched lease renewals are written to PostgreSQL
 * @param sweepInterval         how often the Quartz lease sweep runs: a lost node is called at most this long
 *                              after its lease ran out
 * @param eventRetention        node events older than this are deleted by the retention sweep
 * @param retentionInterval     how often the retention sweep runs
 * @param sweepEnabled          off in tests, which call {@link LeaseSweeper#sweep} with their clock
 * @param unseenRegistrationExpiry a registration that never heartbeats (FAILED after {@code neverReportedGrace}) is
 *                              deleted this long after it registered, so that names that only register do not
 *                              pile up
 */
@Validated
@ConfigurationProperties("steadyrun.fleet")
public record FleetProperties(
        @NotNull @DefaultValue("1s") Duration heartbeatInterval,
        Duration leaseDuration,
        Duration quietGrace,
        Duration neverReportedGrace,
        @Min(1) @DefaultValue("1500") int maxHeartbeatsPerSecond,
        @DecimalMin("0.0") @DecimalMax("1.0") @DefaultValue("0.55") double massFailureThreshold,
        @Min(1) @DefaultValue("10") int massFailureMinFleet,
        @NotNull @DefaultValue("500ms") Duration flushInterval,
        @NotNull @DefaultValue("250ms") Duration sweepInterval,
        @NotNull @DefaultValue("30d") Duration eventRetention,
        @NotNull @DefaultValue("1h") Duration retentionInterval,
        @DefaultValue("true") boolean sweepEnabled,
        @NotNull @DefaultValue("5m") Duration unseenRegistrationExpiry) {

    public FleetProperties {
        if (heartbeatInterval != null && heartbeatInterval.compareTo(LeaseTimings.MAX_HEARTBEAT_INTERVAL) > 0) {
            throw new IllegalArgumentException("steadyrun.fleet.heartbeat-interval must be at most "
                    + LeaseTimings.MAX_HEARTBEAT_INTERVAL.toSeconds() + " s");
        }
    }

    private static final long ROUND_MILLIS = 100;

    /** The timings of a fleet within budget (the configured ones). */
    public LeaseTimings timings() {
        LeaseTimings derived = LeaseTimings.forHeartbeat(heartbeatInterval);
        return new LeaseTimings(
                leaseDuration != null ? leaseDuration : derived.leaseDuration(),
                heartbeatInterval,
                quietGrace != null ? quietGrace : derived.quietGrace(),
                neverReportedGrace != null ? neverReportedGrace : derived.neverReportedGrace(),
                derived.backoffMax());
    }

    /** The timings to hand to every node of a fleet of {@code fleetSize} nodes: the rule in the class comment. */
    public LeaseTimings timingsFor(int fleetSize) {
        LeaseTimings configured = timings();
        long neededMillis = Math.min(LeaseTimings.MAX_HEARTBEAT_INTERVAL.toMillis(),
                (long) Math.ceil(fleetSize * 1000.0 / maxHeartbeatsPerSecond / ROUND_MILLIS) * ROUND_MILLIS);
        if (neededMillis <= heartbeatInterval.toMillis()) {
            return configured;
        }
        LeaseTimings derived = LeaseTimings.forHeartbeat(Duration.ofMillis(neededMillis));
        return new LeaseTimings(
                max(derived.leaseDuration(), configured.leaseDuration()),
                derived.heartbeatInterval(),
                max(derived.quietGrace(), configured.quietGrace()),
                max(derived.neverReportedGrace(), configured.neverReportedGrace()),
                max(derived.backoffMax(), configured.backoffMax()));
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
