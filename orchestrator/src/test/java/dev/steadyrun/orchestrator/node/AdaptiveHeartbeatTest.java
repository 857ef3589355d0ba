package dev.steadyrun.orchestrator.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * The adaptive interval end to end: answers carry the timings of the current fleet size, and a fleet past its
 * budget is answered (and judged) with stretched ones. The shared context's budget (1,500/s) is far above the
 * test fleet, so the stretch is shown with a lease table and heartbeat service built over the same PostgreSQL
 * with a budget of 1 heartbeat/s, as an orchestrator restarted with that setting would be.
 */
class AdaptiveHeartbeatTest extends OrchestratorIntegrationTest {

    @Autowired
    private dev.steadyrun.orchestrator.database.ActiveOrchestratorLock databaseLock;
    @Autowired
    LeaseTable leases;
    @Autowired
    FleetProperties props;
    @Autowired
    NodeRegistry registry;

    @Test
    void registrationAndHeartbeatAnswersCarryTheTimingsOfTheCurrentFleet() {
        RegisterResponse node = register("adaptive-answer", Map.of());
        assertThat(node.timings()).isEqualTo(props.timingsFor(leases.all().size())).isEqualTo(props.timings());
        Reply beat = heartbeat(node, 1, TrainerStatus.idle());
        assertThat(beat.status()).isEqualTo(200);
        LeaseTimings answered = json.treeToValue(beat.body().path("timings"), LeaseTimings.class);
        assertThat(answered).isEqualTo(leases.timingsNow());
        assertThat(leases.get(node.nodeId()).timings).isEqualTo(answered);
    }

    @Test
    void pastTheBudgetAnswersStretchAndTheNodeIsJudgedByTheStretchedLease() {
        RegisterResponse node = register("adaptive-stretch", Map.of());
        RegisterResponse peer = register("adaptive-stretch-peer", Map.of()); // two live nodes: 2 s or more at 1 beat/s
        assertThat(heartbeat(node, 1, TrainerStatus.idle()).status()).isEqualTo(200);
        assertThat(heartbeat(peer, 1, TrainerStatus.idle()).status()).isEqualTo(200);
        leases.flush();

        FleetProperties oneBeatPerSecond = new FleetProperties(props.heartbeatInterval(), null, null, null, 1,
                props.massFailureThreshold(), props.massFailureMinFleet(), props.flushInterval(),
                props.sweepInterval(), props.eventRetention(), props.retentionInterval(), props.sweepEnabled(),
                props.unseenRegistrationExpiry());
        LeaseTable budgeted = new LeaseTable(jdbc, json, oneBeatPerSecond, clock, databaseLock);
        int fleet = budgeted.liveNodes(); // only nodes that heartbeat (and are not FAILED) count
        Duration stretched = Duration.ofSeconds(fleet); // fleet / (1 beat/s)
        assertThat(budgeted.get(node.nodeId()).timings.heartbeatInterval())
                .as("restored nodes are judged by the timings of the fleet they were in").isEqualTo(stretched);

        HeartbeatService service = new HeartbeatService(budgeted, registry, clock);
        HeartbeatService.Beat answer = service.beat(node.nodeId(), new HeartbeatRequest(2,
                List.of(new GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(), 0)), TrainerStatus.idle()));
        assertThat(answer.timings()).isEqualTo(LeaseTimings.forHeartbeat(stretched));
        assertThat(answer.timings().heartbeatInterval()).isGreaterThan(props.heartbeatInterval());

        // Silent for longer than the configured 2.5 s lease but within the stretched one: not suspected.
        Instant beat = clock.instant();
        LeaseDetector detector = new LeaseDetector(props.massFailureThreshold(), props.massFailureMinFleet());
        LeaseRecord record = budgeted.get(node.nodeId());
        Instant afterShortLease = beat.plus(props.timings().leaseDuration()).plusMillis(1);
        assertThat(detector.plan(List.of(record), afterShortLease, false).moves()).isEmpty();
        Instant afterStretchedLease = beat.plus(answer.timings().leaseDuration()).plusMillis(1);
        assertThat(detector.plan(List.of(record), afterStretchedLease, false).moves())
                .singleElement().satisfies(m -> assertThat(m.to()).isEqualTo(NodeState.SUSPECT));
    }
}
