package dev.steadyrun.orchestrator.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuProbeFault;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/** Register → heartbeat → silence → SUSPECT → FAILED and the operator actions, over real HTTP. */
class NodeLifecycleTest extends OrchestratorIntegrationTest {

    static final TrainerStatus IDLE = TrainerStatus.idle();
    static final TrainerStatus RUNNING = new TrainerStatus(TrainerState.RUNNING, UUID.randomUUID(), 0, 1, null, 10,
            List.of(), null);

    @Autowired
    private dev.steadyrun.orchestrator.database.ActiveOrchestratorLock databaseLock;
    @Autowired
    org.quartz.Scheduler scheduler;
    @Autowired
    LeaseSweeper sweeper;
    @Autowired
    LeaseTable leases;
    @Autowired
    NodeRegistry registry;
    @Autowired
    FleetIncidentRepository incidents;
    @Autowired
    FleetMetrics metrics;
    @Autowired
    NodeEventRetention retention;
    @Autowired
    FleetProperties props;

    String state(RegisterResponse node) {
        Reply r = call("GET", "/api/v1/nodes/" + node.nodeId(), ADMIN_TOKEN, null);
        assertThat(r.status()).isEqualTo(200);
        return r.body().path("node").path("state").asString();
    }

    List<JsonNode> events(RegisterResponse node) {
        Reply r = call("GET", "/api/v1/nodes/" + node.nodeId() + "/events?size=100", ADMIN_TOKEN, null);
        assertThat(r.status()).isEqualTo(200);
        List<JsonNode> out = new ArrayList<>();
        r.body().path("items").forEach(out::add);
        java.util.Collections.reverse(out);
        return out;
    }

    static JsonNode last(List<JsonNode> list) {
        return list.get(list.size() - 1);
    }

    void sweepAfter(Duration d) {
        clock.advance(d);
        sweeper.sweep(clock.instant());
    }

    @Test
    void silentNodeGoesSuspectThenFailedStaysFailedAndIsReadmittedByAnOperator() {
        RegisterResponse node = register("life-silent", Map.of("rack", "r1"));
        assertThat(node.nodeCredential()).startsWith("srn_");
        assertThat(node.timings().leaseDuration()).isEqualTo(Duration.ofMillis(2500));
        assertThat(state(node)).isEqualTo("REGISTERED");

        Reply beat = heartbeat(node, 1, IDLE);
        assertThat(beat.status()).isEqualTo(200);
        assertThat(beat.body().path("desired").asString()).isEqualTo("IDLE");
        assertThat(state(node)).isEqualTo("HEALTHY");

        sweepAfter(Duration.ofSeconds(2));
        assertThat(state(node)).isEqualTo("HEALTHY");
        sweepAfter(Duration.ofMillis(1500));
        assertThat(state(node)).isEqualTo("SUSPECT");
        sweepAfter(Duration.ofSeconds(6));
        assertThat(state(node)).isEqualTo("FAILED");

        // A FAILED node that beats again is told to stop its trainer and stays FAILED.
        Reply late = heartbeat(node, 2, RUNNING);
        assertThat(late.status()).isEqualTo(200);
        assertThat(late.body().path("desired").asString()).isEqualTo("STOP");
        assertThat(state(node)).isEqualTo("FAILED");
        assertThat(heartbeat(node, 3, IDLE).body().path("desired").asString()).isEqualTo("IDLE");

        Reply readmit = call("POST", "/api/v1/nodes/" + node.nodeId() + "/uncordon", ADMIN_TOKEN, null);
        assertThat(readmit.status()).isEqualTo(200);
        assertThat(readmit.body().path("state").asString()).isEqualTo("REGISTERED");
        heartbeat(node, 4, IDLE);
        assertThat(state(node)).isEqualTo("HEALTHY");

        List<JsonNode> events = events(node);
        assertThat(events).extracting(e -> e.path("to").asString())
                .containsExactly("REGISTERED", "HEALTHY", "SUSPECT", "FAILED", "REGISTERED", "HEALTHY");
        assertThat(events.get(2).path("reason").asString()).contains("lease expired");
        assertThat(events.get(2).path("actor").asString()).isEqualTo("system");
        assertThat(events.get(4).path("actor").asString()).isEqualTo("operator:bootstrap-admin");

        String prometheus = prometheus();
        assertThat(prometheus).contains("steadyrun_failure_detection_latency_seconds_count")
                .contains("steadyrun_heartbeats_received_total").contains("steadyrun_nodes{")
                .contains("steadyrun_heartbeat_latency_seconds_bucket");
    }

    @Test
    void heartbeatBringsASuspectNodeBack() {
        RegisterResponse node = register("life-recover", Map.of());
        heartbeat(node, 1, IDLE);
        sweepAfter(Duration.ofSeconds(5));
        assertThat(state(node)).isEqualTo("SUSPECT");
        heartbeat(node, 2, IDLE);
        assertThat(state(node)).isEqualTo("HEALTHY");
        assertThat(last(events(node)).path("reason").asString()).isEqualTo("heartbeats resumed");
    }

    @Test
    void nodeThatNeverReportsFailsAfterItsGrace() {
        RegisterResponse node = register("life-never", Map.of());
        sweepAfter(Duration.ofSeconds(29));
        assertThat(state(node)).isEqualTo("REGISTERED");
        sweepAfter(Duration.ofSeconds(2));
        assertThat(state(node)).isEqualTo("FAILED");
        assertThat(last(events(node)).path("reason").asString()).contains("no first heartbeat");
    }

    /** The agent's word that nvidia-smi stopped answering: DEGRADED makes the node SUSPECT, FATAL fails it. */
    @Test
    void aStaleGpuProbeMakesTheNodeSuspectThenFailed() {
        RegisterResponse node = register("life-probe", Map.of());
        heartbeat(node, 1, IDLE);
        GpuHealth lastGood = new GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(), 0);
        Reply degraded = call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                new HeartbeatRequest(2, List.of(lastGood), IDLE,
                        new GpuProbeFault(GpuProbeFault.Severity.DEGRADED, 31)));
        assertThat(degraded.status()).isEqualTo(200);
        assertThat(state(node)).isEqualTo("SUSPECT");
        assertThat(last(events(node)).path("reason").asString()).contains("no answer from nvidia-smi for 31 s");

        call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                new HeartbeatRequest(3, List.of(lastGood), IDLE, new GpuProbeFault(GpuProbeFault.Severity.FATAL, 120)));
        assertThat(state(node)).isEqualTo("FAILED");

        Reply bad = call("POST", "/api/v1/agents/" + node.nodeId() + "/heartbeat", node.nodeCredential(),
                new HeartbeatRequest(4, List.of(lastGood), IDLE, new GpuProbeFault(null, 5)));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.raw().body()).contains("gpuProbe.severity");
    }

    @Test
    void fatalXidFailsTheNodeDegradedMakesItSuspectUntilQuiet() {
        RegisterResponse fatal = register("life-xid79", Map.of());
        heartbeat(fatal, 1, IDLE);
        Reply r = heartbeat(fatal, 2, RUNNING, new GpuHealth(0, 60, 1, 81559, 90, 0, 0, 0, List.of(79), 0));
        assertThat(r.body().path("desired").asString()).isEqualTo("STOP");
        assertThat(state(fatal)).isEqualTo("FAILED");
        assertThat(last(events(fatal)).path("reason").asString()).contains("XID 79").contains("fallen off");

        RegisterResponse degraded = register("life-xid92", Map.of());
        heartbeat(degraded, 1, IDLE);
        heartbeat(degraded, 2, IDLE, new GpuHealth(0, 60, 1, 81559, 90, 0, 0, 0, List.of(92), 0));
        assertThat(state(degraded)).isEqualTo("SUSPECT");
        heartbeat(degraded, 3, IDLE);
        assertThat(state(degraded)).as("still within the quiet grace after the fault").isEqualTo("SUSPECT");
        clock.advance(props.timings().quietGrace());
        heartbeat(degraded, 4, IDLE);
        assertThat(state(degraded)).isEqualTo("HEALTHY");

        RegisterResponse app = register("life-xid13", Map.of());
        heartbeat(app, 1, IDLE);
        heartbeat(app, 2, IDLE, new GpuHealth(0, 60, 1, 81559, 90, 0, 0, 0, List.of(13, 43), 0));
        assertThat(state(app)).as("application XIDs are not node faults").isEqualTo("HEALTHY");

        RegisterResponse ecc = register("life-ecc", Map.of());
        heartbeat(ecc, 1, IDLE, new GpuHealth(0, 60, 1, 81559, 90, 0, 2, 0, List.of(), 0));
        heartbeat(ecc, 2, IDLE, new GpuHealth(0, 60, 1, 81559, 90, 0, 3, 0, List.of(), 0));
        assertThat(state(ecc)).isEqualTo("FAILED");
    }

    @Test
    void cordonKeepsANodeOutDrainStopsItsTrainerThenCordons() {
        RegisterResponse node = register("life-cordon", Map.of());
        heartbeat(node, 1, IDLE);
        Reply cordon = call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", ADMIN_TOKEN,
                Map.of("reason", "bad fan"));
        assertThat(cordon.status()).isEqualTo(200);
        assertThat(cordon.body().path("state").asString()).isEqualTo("CORDONED");
        assertThat(cordon.body().path("stateReason").asString()).isEqualTo("bad fan");
        heartbeat(node, 2, IDLE);
        assertThat(state(node)).as("a heartbeat does not uncordon").isEqualTo("CORDONED");
        Reply again = call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", ADMIN_TOKEN, null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.body().path("detail").asString()).contains("CORDONED node cannot become CORDONED");

        assertThat(call("POST", "/api/v1/nodes/" + node.nodeId() + "/drain", ADMIN_TOKEN, null).status())
                .isEqualTo(200);
        assertThat(heartbeat(node, 3, RUNNING).body().path("desired").asString()).isEqualTo("STOP");
        assertThat(state(node)).isEqualTo("DRAINING");
        heartbeat(node, 4, IDLE);
        assertThat(state(node)).isEqualTo("CORDONED");
        assertThat(last(events(node)).path("reason").asString()).contains("drain complete");

        Reply uncordon = call("POST", "/api/v1/nodes/" + node.nodeId() + "/uncordon", ADMIN_TOKEN, null);
        assertThat(uncordon.body().path("state").asString()).isEqualTo("REGISTERED");
        heartbeat(node, 5, IDLE);
        assertThat(state(node)).isEqualTo("HEALTHY");
        assertThat(call("POST", "/api/v1/nodes/" + node.nodeId() + "/uncordon", ADMIN_TOKEN, null).status())
                .isEqualTo(409);
    }

    @Test
    void spareIsReservedAndReleasedAndStillWatched() {
        RegisterResponse node = register("life-spare", Map.of());
        heartbeat(node, 1, IDLE);
        registry.markSpare(node.nodeId(), "scheduler");
        assertThat(registry.spareNodes()).extracting(NodeView::id).contains(node.nodeId());
        assertThat(registry.availableNodes()).extracting(NodeView::id).doesNotContain(node.nodeId());
        registry.releaseSpare(node.nodeId(), "scheduler");
        assertThat(registry.availableNodes()).extracting(NodeView::id).contains(node.nodeId());
        registry.markSpare(node.nodeId(), "scheduler");
        sweepAfter(Duration.ofSeconds(5));
        assertThat(registry.state(node.nodeId())).isEqualTo(NodeState.SUSPECT);
    }

    @Test
    void reRegisteringWithItsCredentialRejoinsTheSameNode() {
        RegisterResponse first = register("life-rejoin", Map.of("zone", "a"));
        heartbeat(first, 1, IDLE);
        Reply rejoin = call("POST", "/api/v1/agents/register", JOIN_TOKEN, new dev.steadyrun.protocol.RegisterRequest(
                "life-rejoin", "life-rejoin.local", List.of(), Map.of("zone", "b"), "test", first.nodeCredential()));
        assertThat(rejoin.status()).isEqualTo(200);
        RegisterResponse second = json.treeToValue(rejoin.body(), RegisterResponse.class);
        assertThat(second.nodeId()).isEqualTo(first.nodeId());
        assertThat(second.nodeCredential()).as("the credential is kept").isEqualTo(first.nodeCredential());
        assertThat(state(second)).isEqualTo("REGISTERED");
        assertThat(heartbeat(second, 1, IDLE).status()).isEqualTo(200);
        assertThat(state(second)).isEqualTo("HEALTHY");
        Reply byLabel = call("GET", "/api/v1/nodes?label=zone=b&state=HEALTHY", ADMIN_TOKEN, null);
        assertThat(byLabel.body().path("items").findValuesAsString("name")).contains("life-rejoin");
        Reply oldLabel = call("GET", "/api/v1/nodes?label=zone=a", ADMIN_TOKEN, null);
        assertThat(oldLabel.body().path("items").findValuesAsString("name")).doesNotContain("life-rejoin");
    }

    @Test
    void theNodeListCarriesEachNodesRunRankAndGpuFiguresFromItsLastHeartbeat() {
        String zone = "list-" + UUID.randomUUID().toString().substring(0, 8);
        RegisterResponse fresh = register(zone + "-fresh", Map.of("zone", zone));
        RegisterResponse busy = register(zone + "-busy", Map.of("zone", zone));
        heartbeat(busy, 1, RUNNING, new GpuHealth(0, 61.5, 1000, 81559, 40, 0, 0, 0, List.of(), 0),
                new GpuHealth(1, 83, 1000, 81559, 90, 0, 0, 0, List.of(), 0));

        Reply list = call("GET", "/api/v1/nodes?label=zone=" + zone, ADMIN_TOKEN, null);
        assertThat(list.status()).isEqualTo(200);
        Map<String, JsonNode> byName = new java.util.HashMap<>();
        list.body().path("items").forEach(n -> byName.put(n.path("name").asString(), n));
        JsonNode b = byName.get(zone + "-busy");
        assertThat(b.at("/trainer/state").asString()).isEqualTo("RUNNING");
        assertThat(b.at("/trainer/runId").asString()).isEqualTo(RUNNING.runId().toString());
        assertThat(b.at("/trainer/rank").asInt()).isEqualTo(RUNNING.rank());
        assertThat(b.at("/trainer/generation").asLong()).isEqualTo(RUNNING.generation());
        assertThat(b.at("/gpuHealth/gpus").asInt()).isEqualTo(2);
        assertThat(b.at("/gpuHealth/maxTemperatureC").asDouble()).isEqualTo(83.0);
        assertThat(b.at("/gpuHealth/meanUtilizationPct").asDouble()).isEqualTo(65.0);
        // the trainer's log tail and thread dump stay on the node's own page
        assertThat(b.path("trainer").has("logTail")).isFalse();
        // no heartbeat yet: nothing to tell
        JsonNode f = byName.get(zone + "-fresh");
        assertThat(f.path("trainer").isNull()).isTrue();
        assertThat(f.path("gpuHealth").isNull()).isTrue();
    }

    @Test
    void renewalsAreFlushedInBatchesAndRestoredWithAFreshGraceAfterARestart() {
        RegisterResponse node = register("life-flush", Map.of());
        heartbeat(node, 7, RUNNING);
        Instant beat = clock.instant();
        leases.flush();
        Map<String, Object> row = jdbc.queryForMap(
                "select last_seen_at, last_sequence, trainer_status from node where id = ?", node.nodeId());
        assertThat(((Timestamp) row.get("last_seen_at")).toInstant()).isEqualTo(beat);
        assertThat(row.get("last_sequence")).isEqualTo(7L);
        assertThat((String) row.get("trainer_status")).contains("RUNNING");
        assertThat(leases.flush()).as("nothing new to write").isZero();

        // An orchestrator that starts an hour later restores the node and gives it a fresh lease from its start.
        clock.advance(Duration.ofHours(1));
        LeaseTable restarted = new LeaseTable(jdbc, json, props, clock, databaseLock);
        LeaseRecord restored = restarted.get(node.nodeId());
        assertThat(restored.lastSeen()).isEqualTo(beat);
        Duration retryWait = restored.timings.backoffMax();
        assertThat(restored.leaseBase()).isEqualTo(clock.instant().plus(retryWait));
        LeaseDetector detector = new LeaseDetector(0.55, 10);
        assertThat(detector.plan(List.of(restored), clock.instant().plusSeconds(2), false).moves()).isEmpty();

        // A slow start (flyway, caches) must not eat the grace: until the web server takes requests the sweep
        // judges nobody, and from then on the grace counts again.
        clock.advance(Duration.ofMinutes(2));
        LeaseSweeper early = new LeaseSweeper(restarted, registry, incidents, metrics, props);
        assertThat(early.sweep(clock.instant()).moves()).as("before serving").isEmpty();
        restarted.startServing();
        assertThat(restarted.isServing()).isTrue();
        assertThat(restored.leaseBase()).isEqualTo(clock.instant().plus(retryWait));
        // An agent refused (or unanswered) just before the web server took requests retries at most its backoff
        // cap later, and its heartbeat still needs the way here: that gap judges nobody.
        Instant lastRetry = clock.instant().plus(retryWait).plus(restored.timings.leaseDuration()).minusMillis(1);
        assertThat(detector.plan(List.of(restored), lastRetry, false).moves()).as("an agent retrying at its cap")
                .isEmpty();
        assertThat(detector.plan(List.of(restored), lastRetry.plusMillis(2), false).moves())
                .as("judged again once serving").isNotEmpty();
    }

    @Test
    void whenTheDatabaseLockIsConfirmedAgainNobodyIsJudgedForTheRetriesRefusedMeanwhile() {
        RegisterResponse node = register("life-reconfirm", Map.of());
        heartbeat(node, 1, RUNNING);
        LeaseRecord lease = leases.get(node.nodeId());
        // agents were refused with 503 for a minute; the lock is ours again now
        clock.advance(Duration.ofMinutes(1));
        leases.resumeServing();
        Duration retryWait = lease.timings.backoffMax();
        LeaseDetector detector = new LeaseDetector(0.55, 10);
        assertThat(detector.plan(List.of(lease), clock.instant().plus(retryWait).plus(lease.timings.leaseDuration())
                .minusMillis(1), false).moves()).as("an agent refused just before retries at most its cap later")
                .isEmpty();
        assertThat(detector.plan(List.of(lease), clock.instant().plus(retryWait).plus(lease.timings.leaseDuration())
                .plusMillis(1), false).moves()).as("a node that stays silent is judged").isNotEmpty();
        // once heard from, a node is judged by its heartbeats again, not by the gap's grace
        heartbeat(node, 2, RUNNING);
        assertThat(lease.leaseBase()).isEqualTo(clock.instant());
    }

    @Test
    void massFailureGuardRaisesAnIncidentInsteadOfFailingAndClearsWhenHeartbeatsReturn() {
        sweeper.sweep(clock.instant()); // settle nodes of other tests first
        long others = leases.all().stream().filter(r -> r.state().watched()).count();
        List<RegisterResponse> mine = new ArrayList<>();
        for (int i = 0; i < 2 * others + 4; i++) {
            RegisterResponse n = register("mass-" + i, Map.of());
            heartbeat(n, 1, IDLE);
            mine.add(n);
        }
        FleetProperties guarded = new FleetProperties(props.heartbeatInterval(), null, null, null,
                props.maxHeartbeatsPerSecond(), 0.55, 3,
                props.flushInterval(), props.sweepInterval(), props.eventRetention(), props.retentionInterval(),
                props.sweepEnabled(), props.unseenRegistrationExpiry());
        LeaseSweeper guardedSweeper = new LeaseSweeper(leases, registry, incidents, metrics, guarded);
        long before = count("fleet_incident");

        clock.advance(Duration.ofSeconds(30)); // everyone silent: the orchestrator looks cut off
        LeaseDetector.Plan tripped = guardedSweeper.sweep(clock.instant());
        assertThat(tripped.incident()).isEqualTo(LeaseDetector.IncidentAction.OPEN);
        assertThat(count("fleet_incident")).isEqualTo(before + 1);
        assertThat(mine).allSatisfy(n -> assertThat(registry.state(n.nodeId())).isEqualTo(NodeState.HEALTHY));
        assertThat(prometheus())
                .containsPattern("steadyrun_fleet_incident_open\\{[^}]*} 1\\.0");
        Reply list = call("GET", "/api/v1/fleet/incidents", ADMIN_TOKEN, null);
        assertThat(list.body().get(0).path("closedAt").isNull()).isTrue();

        for (RegisterResponse n : mine) {
            heartbeat(n, 2, IDLE);
        }
        LeaseDetector.Plan cleared = guardedSweeper.sweep(clock.instant());
        assertThat(cleared.incident()).isEqualTo(LeaseDetector.IncidentAction.CLOSE);
        assertThat(jdbc.queryForObject("select count(*) from fleet_incident where closed_at is null", Long.class))
                .isZero();
        assertThat(mine).allSatisfy(n -> assertThat(registry.state(n.nodeId())).isEqualTo(NodeState.HEALTHY));
    }

    @Test
    void retentionDeletesOnlyOldEvents() {
        RegisterResponse node = register("life-retention", Map.of());
        jdbc.update("insert into node_event (node_id, at, from_state, to_state, reason, actor)"
                + " values (?, ?, null, 'REGISTERED', 'old', 'system')",
                node.nodeId(), Timestamp.from(clock.instant().minus(Duration.ofDays(31))));
        assertThat(events(node)).hasSize(2);
        assertThat(retention.sweep(clock.instant())).isEqualTo(1);
        assertThat(events(node)).singleElement()
                .satisfies(e -> assertThat(e.path("reason").asString()).startsWith("registered"));
    }

    @Test
    void theFleetsPeriodicWorkIsScheduledByQuartz() throws Exception {
        // one orchestrator per database: Quartz keeps its jobs in memory (the clustered JDBC store is gone)
        assertThat(scheduler.getMetaData().getJobStoreClass().getSimpleName()).isEqualTo("RAMJobStore");
        assertThat(scheduler.getJobKeys(org.quartz.impl.matchers.GroupMatcher.jobGroupEquals("fleet")))
                .extracting(org.quartz.JobKey::getName).contains("lease-sweep", "lease-flush", "node-event-retention");
        assertThat(scheduler.getTriggerKeys(org.quartz.impl.matchers.GroupMatcher.triggerGroupEquals("fleet")))
                .extracting(org.quartz.TriggerKey::getName).contains("lease-sweep", "lease-flush", "node-event-retention");
    }
}
