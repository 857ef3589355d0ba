package dev.steadyrun.orchestrator.node;

import static dev.steadyrun.orchestrator.node.NodeState.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.node.LeaseDetector.IncidentAction;
import dev.steadyrun.orchestrator.node.LeaseDetector.Move;
import dev.steadyrun.protocol.LeaseTimings;

/** The detector with plain instants standing in for a fake clock: 1 s beats, 2.5 s lease, 6 s quiet, 30 s first. */
class LeaseDetectorTest {

    static final LeaseTimings T = LeaseTimings.forHeartbeat(Duration.ofSeconds(1));
    static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

    final LeaseDetector detector = new LeaseDetector(0.55, 10);

    static LeaseRecord node(NodeState state, Instant lastSeen) {
        return new LeaseRecord(UUID.randomUUID(), state, lastSeen, T0, T);
    }

    static Instant at(double seconds) {
        return T0.plusMillis((long) (seconds * 1000));
    }

    /** Applies the moves as the sweeper would. */
    static List<Move> apply(LeaseDetector.Plan plan, List<LeaseRecord> records) {
        for (Move m : plan.moves()) {
            records.stream().filter(r -> r.nodeId.equals(m.nodeId())).forEach(r -> r.state = m.to());
        }
        return plan.moves();
    }

    @Test
    void neverReportedNodeFailsAfterItsGraceNotBefore() {
        LeaseRecord r = node(REGISTERED, null);
        assertThat(detector.plan(List.of(r), at(30), false).moves()).isEmpty();
        List<Move> moves = detector.plan(List.of(r), at(30.001), false).moves();
        assertThat(moves).singleElement().satisfies(m -> {
            assertThat(m.to()).isEqualTo(FAILED);
            assertThat(m.reason()).contains("no first heartbeat within 30 s");
        });
    }

    @Test
    void quietNodeTurnsSuspectWhenTheLeaseRunsOutThenFailedAfterTheQuietGrace() {
        LeaseRecord r = node(HEALTHY, at(10));
        List<LeaseRecord> all = List.of(r);
        assertThat(apply(detector.plan(all, at(12.5), false), all)).isEmpty();
        List<Move> suspect = apply(detector.plan(all, at(12.6), false), all);
        assertThat(suspect).singleElement().satisfies(m -> {
            assertThat(m.from()).isEqualTo(HEALTHY);
            assertThat(m.to()).isEqualTo(SUSPECT);
            assertThat(m.silentSince()).isEqualTo(at(10));
        });
        assertThat(apply(detector.plan(all, at(18.5), false), all)).isEmpty();
        List<Move> failed = apply(detector.plan(all, at(18.6), false), all);
        assertThat(failed).singleElement().satisfies(m -> assertThat(m.to()).isEqualTo(FAILED));
        assertThat(apply(detector.plan(all, at(1000), false), all)).as("FAILED is not watched").isEmpty();
    }

    @Test
    void aHeartbeatResetsTheLease() {
        LeaseRecord r = node(SUSPECT, at(10));
        r.lastSeen = at(18); // beat again just before the quiet grace ran out
        assertThat(detector.plan(List.of(r), at(21), false).moves()).isEmpty();
    }

    @Test
    void graceCountsFromTheOrchestratorStartWhenThatIsLater() {
        // Last seen an hour before the orchestrator (re)started at T0: it gets a fresh lease from T0.
        LeaseRecord r = node(HEALTHY, T0.minus(Duration.ofHours(1)));
        assertThat(detector.plan(List.of(r), at(2.4), false).moves()).isEmpty();
        assertThat(detector.plan(List.of(r), at(2.6), false).moves()).hasSize(1);
    }

    @Test
    void spareGoesSuspectCordonedAndDrainingFailDirectlyAfterTheQuietGrace() {
        LeaseRecord spare = node(SPARE, at(0));
        LeaseRecord cordoned = node(CORDONED, at(0));
        LeaseRecord draining = node(DRAINING, at(0));
        List<LeaseRecord> all = List.of(spare, cordoned, draining);
        assertThat(detector.plan(all, at(5), false).moves()).singleElement()
                .satisfies(m -> assertThat(m.nodeId()).isEqualTo(spare.nodeId));
        List<Move> late = detector.plan(all, at(10.5), false).moves();
        assertThat(late).extracting(Move::to).containsExactlyInAnyOrder(SUSPECT, FAILED, FAILED);
    }

    @Test
    void massFailureGuardTripsInsteadOfFailingNodesAndClearsWhenHeartbeatsComeBack() {
        List<LeaseRecord> fleet = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fleet.add(node(HEALTHY, at(0)));
        }
        // 12 of 20 (60% > 55%) go silent: the guard trips, nobody moves.
        for (int i = 0; i < 8; i++) {
            fleet.get(i).lastSeen = at(5);
        }
        LeaseDetector.Plan tripped = detector.plan(fleet, at(6), false);
        assertThat(tripped.incident()).isEqualTo(IncidentAction.OPEN);
        assertThat(tripped.moves()).isEmpty();
        assertThat(tripped.silentNodes()).isEqualTo(12);
        assertThat(tripped.fleetSize()).isEqualTo(20);
        // Still silent much later: still no failures, the incident stays open (no second OPEN).
        for (int i = 0; i < 8; i++) {
            fleet.get(i).lastSeen = at(59);
        }
        LeaseDetector.Plan still = detector.plan(fleet, at(60), true);
        assertThat(still.incident()).isEqualTo(IncidentAction.NONE);
        assertThat(still.moves()).isEmpty();
        // Heartbeats come back from all but 2: the incident closes and those 2 are handled normally again.
        for (int i = 0; i < 18; i++) {
            fleet.get(i).lastSeen = at(60);
        }
        LeaseDetector.Plan cleared = detector.plan(fleet, at(61), true);
        assertThat(cleared.incident()).isEqualTo(IncidentAction.CLOSE);
        assertThat(cleared.moves()).hasSize(2).allSatisfy(m -> assertThat(m.to()).isEqualTo(SUSPECT));
    }

    @Test
    void registrationsNeverHeardFromDoNotTripTheGuard() {
        List<LeaseRecord> fleet = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fleet.add(node(HEALTHY, at(30)));
        }
        fleet.get(0).lastSeen = at(0); // one real node went silent
        for (int i = 0; i < 100; i++) {
            fleet.add(node(REGISTERED, null)); // a flood of names that only registered
        }
        LeaseDetector.Plan plan = detector.plan(fleet, at(31), false);
        assertThat(plan.incident()).isEqualTo(IncidentAction.NONE);
        assertThat(plan.fleetSize()).isEqualTo(20);
        assertThat(plan.silentNodes()).isEqualTo(1);
        assertThat(plan.moves()).hasSize(101).filteredOn(m -> m.to() == SUSPECT).singleElement()
                .satisfies(m -> assertThat(m.nodeId()).isEqualTo(fleet.get(0).nodeId));
    }

    @Test
    void exactlyAtTheThresholdIsNotMassFailure() {
        List<LeaseRecord> fleet = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fleet.add(node(HEALTHY, i < 9 ? at(5) : at(0))); // 11 of 20 = 55% silent
        }
        LeaseDetector.Plan plan = detector.plan(fleet, at(6), false);
        assertThat(plan.incident()).isEqualTo(IncidentAction.NONE);
        assertThat(plan.moves()).hasSize(11);
    }

    @Test
    void smallFleetsAreNotGuarded() {
        List<LeaseRecord> fleet = List.of(node(HEALTHY, at(0)), node(HEALTHY, at(0)));
        LeaseDetector.Plan plan = detector.plan(fleet, at(6), false);
        assertThat(plan.incident()).isEqualTo(IncidentAction.NONE);
        assertThat(plan.moves()).hasSize(2);
    }
}
