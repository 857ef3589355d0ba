package dev.steadyrun.orchestrator.node;

import static dev.steadyrun.orchestrator.node.NodeState.HEALTHY;
import static dev.steadyrun.orchestrator.node.NodeState.SUSPECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.LeaseTimings;

/** The adaptive heartbeat interval rule ({@link FleetProperties#timingsFor}) and the detector judging by it. */
class AdaptiveIntervalTest {

    static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

    static FleetProperties fleet(Duration interval, Duration lease, int budget) {
        return new FleetProperties(interval, lease, null, null, budget, 0.55, 10, Duration.ofMillis(500),
                Duration.ofSeconds(1), Duration.ofDays(30), Duration.ofHours(1), true, Duration.ofMinutes(5));
    }

    @Test
    void theIntervalNeverStretchesPastTheProtocolsMaximum() {
        FleetProperties p = fleet(Duration.ofSeconds(1), null, 1500);
        assertThat(p.timingsFor(15_000).heartbeatInterval()).isEqualTo(LeaseTimings.MAX_HEARTBEAT_INTERVAL);
        LeaseTimings flooded = p.timingsFor(150_000); // the 150,000 fake names: 100 s beats before the cap
        assertThat(flooded.heartbeatInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(flooded.leaseDuration()).isEqualTo(Duration.ofSeconds(25));
        assertThat(p.timingsFor(Integer.MAX_VALUE)).isEqualTo(flooded);
        assertThatThrownBy(() -> fleet(Duration.ofSeconds(11), null, 1500))
                .hasMessageContaining("heartbeat-interval must be at most 10 s");
    }

    @Test
    void withinTheBudgetTheConfiguredTimingsApply() {
        FleetProperties p = fleet(Duration.ofSeconds(1), null, 1500);
        assertThat(p.timingsFor(0)).isEqualTo(LeaseTimings.DEFAULT);
        assertThat(p.timingsFor(1000)).isEqualTo(LeaseTimings.DEFAULT);
        assertThat(p.timingsFor(1500)).as("exactly at the budget").isEqualTo(LeaseTimings.DEFAULT);
    }

    @Test
    void pastTheBudgetTheIntervalStretchesToFleetOverBudgetRoundedUpTo100ms() {
        FleetProperties p = fleet(Duration.ofSeconds(1), null, 1500);
        assertThat(p.timingsFor(1501).heartbeatInterval()).isEqualTo(Duration.ofMillis(1100));
        LeaseTimings t = p.timingsFor(10_000); // 6.67 s
        assertThat(t).isEqualTo(LeaseTimings.forHeartbeat(Duration.ofMillis(6700)));
        assertThat(t.leaseDuration()).isEqualTo(Duration.ofMillis(16_750));
        // The fleet's total rate then stays within the budget.
        assertThat(10_000 * 1000.0 / t.heartbeatInterval().toMillis()).isLessThanOrEqualTo(1500);
    }

    @Test
    void aStretchedIntervalNeverShortensAConfiguredLease() {
        FleetProperties p = fleet(Duration.ofSeconds(1), Duration.ofSeconds(60), 1000);
        assertThat(p.timingsFor(500).leaseDuration()).isEqualTo(Duration.ofSeconds(60));
        LeaseTimings t = p.timingsFor(2000); // 2 s beats: derived lease 5 s < configured 60 s
        assertThat(t.heartbeatInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(t.leaseDuration()).isEqualTo(Duration.ofSeconds(60));
        assertThat(t.quietGrace()).isEqualTo(Duration.ofSeconds(12));
    }

    @Test
    void eachNodeIsJudgedByTheTimingsItWasLastHanded() {
        FleetProperties p = fleet(Duration.ofSeconds(1), null, 1000);
        LeaseTimings small = p.timingsFor(10);
        LeaseTimings large = p.timingsFor(7000); // 7 s beats, 17.5 s lease, 42 s quiet grace
        assertThat(large.heartbeatInterval()).isEqualTo(Duration.ofSeconds(7));
        LeaseRecord toldOneSecond = new LeaseRecord(UUID.randomUUID(), HEALTHY, T0, T0, small);
        LeaseRecord toldSevenSeconds = new LeaseRecord(UUID.randomUUID(), HEALTHY, T0, T0, large);
        LeaseDetector detector = new LeaseDetector(0.55, 1000);
        List<LeaseRecord> both = List.of(toldOneSecond, toldSevenSeconds);

        assertThat(detector.plan(both, T0.plusMillis(4001), false).moves())
                .singleElement().satisfies(m -> {
                    assertThat(m.nodeId()).isEqualTo(toldOneSecond.nodeId());
                    assertThat(m.to()).isEqualTo(SUSPECT);
                });
        assertThat(detector.plan(List.of(toldSevenSeconds), T0.plusMillis(17_500), false).moves()).isEmpty();
        assertThat(detector.plan(List.of(toldSevenSeconds), T0.plusMillis(17_501), false).moves())
                .singleElement().satisfies(m -> assertThat(m.reason()).contains("lease 17500 ms"));

        // Told 1 s again (the fleet shrank): from then on the short lease applies.
        toldSevenSeconds.timings = small;
        assertThat(detector.plan(List.of(toldSevenSeconds), T0.plusMillis(4001), false).moves()).hasSize(1);
    }
}
