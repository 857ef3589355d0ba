package dev.steadyrun.orchestrator.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * Who may be a node (issue 15, identity): the join token admits new names only, an existing name needs its
 * credential or an admin's re-key, unknown node ids answer like wrong credentials, registration input cannot carry
 * control characters, and registrations cannot pile up (expiry, admin delete, live-only fleet size).
 */
class NodeIdentityTest extends RunsApiSupport {

    static final String REGISTER = "/api/v1/agents/register";
    static final TrainerStatus IDLE = TrainerStatus.idle();

    @Autowired
    LeaseSweeper sweeper;
    @Autowired
    LeaseTable leases;
    @Autowired
    FleetProperties props;

    RegisterRequest request(String name, String hostname, Map<String, String> labels, String credential) {
        return new RegisterRequest(name, hostname, List.of(new GpuInfo(0, "GPU-" + name, "NVIDIA H100", 81559)),
                labels, "test", credential);
    }

    JsonNode node(UUID id) {
        Reply r = call("GET", "/api/v1/nodes/" + id, ADMIN_TOKEN, null);
        assertThat(r.status()).as(r.raw().body()).isEqualTo(200);
        return r.body().path("node");
    }

    List<JsonNode> events(UUID id) {
        List<JsonNode> out = new ArrayList<>();
        call("GET", "/api/v1/nodes/" + id + "/events?size=100", ADMIN_TOKEN, null).body().path("items")
                .forEach(out::add);
        return out; // newest first
    }

    void assertProblem(Reply r, int status) {
        assertThat(r.status()).as(r.raw().body()).isEqualTo(status);
        assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                ct -> assertThat(ct).startsWith("application/problem+json"));
    }

    /** What a takeover would change (not the lease columns, which the background flush writes). */
    String identities() {
        return jdbc.queryForObject("select md5(coalesce(string_agg(concat_ws('|', n.id, n.name, n.hostname,"
                + " n.agent_version, n.state, n.credential_hash, n.deleted_at), ',' order by n.id), ''))"
                + " || (select md5(coalesce(string_agg(concat_ws('|', node_id, key, value), ',' order by node_id, key),"
                + " '')) from node_label) || (select count(*) from node_event) from node n", String.class);
    }

    /** Runs the call and checks that no node, label or event row changed. */
    Reply changesNothing(Supplier<Reply> call) {
        String before = identities();
        Reply r = call.get();
        String after = identities();
        assertThat(after).as("node, node_label and node_event rows").isEqualTo(before);
        return r;
    }

    @Test
    void theJoinTokenAloneCannotTakeOverARegisteredName() {
        RegisterResponse victim = register("id-victim", Map.of("zone", "a"));
        assertThat(heartbeat(victim, 1, IDLE).status()).isEqualTo(200);

        Reply noProof = changesNothing(() -> call("POST", REGISTER, JOIN_TOKEN,
                request("id-victim", "evil.example", Map.of("zone", "evil"), null)));
        assertProblem(noProof, 403);
        assertThat(noProof.body().path("detail").asString()).contains("already registered")
                .doesNotContain("srn_");
        Reply wrongProof = changesNothing(() -> call("POST", REGISTER, JOIN_TOKEN,
                request("id-victim", "evil.example", Map.of("zone", "evil"), RegisterRequest.newCredential())));
        assertProblem(wrongProof, 403);
        String attackers = register("id-attacker", Map.of()).nodeCredential();
        Reply otherNodesProof = changesNothing(() -> call("POST", REGISTER, JOIN_TOKEN, request("id-victim",
                "evil.example", Map.of(), attackers)));
        assertProblem(otherNodesProof, 403);

        JsonNode kept = node(victim.nodeId());
        assertThat(kept.path("hostname").asString()).isEqualTo("id-victim.local");
        assertThat(kept.path("labels").path("zone").asString()).isEqualTo("a");
        assertThat(kept.path("state").asString()).isEqualTo("HEALTHY");
        assertThat(heartbeat(victim, 2, IDLE).status()).as("the victim's credential still works").isEqualTo(200);
    }

    @Test
    void reRegisteringWithTheCurrentCredentialRejoinsAndKeepsIt() {
        RegisterResponse first = register("id-rejoin", Map.of("zone", "a"));
        heartbeat(first, 1, IDLE);
        Reply again = call("POST", REGISTER, JOIN_TOKEN,
                request("id-rejoin", "moved.local", Map.of("zone", "b"), first.nodeCredential()));
        assertThat(again.status()).as(again.raw().body()).isEqualTo(200);
        RegisterResponse second = json.treeToValue(again.body(), RegisterResponse.class);
        assertThat(second.nodeId()).isEqualTo(first.nodeId());
        assertThat(second.nodeCredential()).isEqualTo(first.nodeCredential());
        JsonNode node = node(first.nodeId());
        assertThat(node.path("hostname").asString()).isEqualTo("moved.local");
        assertThat(node.path("labels").path("zone").asString()).isEqualTo("b");
        assertThat(node.path("state").asString()).isEqualTo("REGISTERED");
        assertThat(heartbeat(second, 2, IDLE).status()).isEqualTo(200);
    }

    @Test
    void aFirstRegistrationMayProposeItsCredentialSoThatALostAnswerCanBeRetried() {
        String proposed = RegisterRequest.newCredential();
        Reply first = call("POST", REGISTER, JOIN_TOKEN, request("id-proposed", "h1", Map.of(), proposed));
        assertThat(first.status()).as(first.raw().body()).isEqualTo(200);
        assertThat(first.body().path("nodeCredential").asString()).isEqualTo(proposed);
        // the answer was lost: the agent retries with what it stored before asking
        Reply retry = call("POST", REGISTER, JOIN_TOKEN, request("id-proposed", "h1", Map.of(), proposed));
        assertThat(retry.status()).isEqualTo(200);
        assertThat(retry.body().path("nodeId")).isEqualTo(first.body().path("nodeId"));
        RegisterResponse node = json.treeToValue(retry.body(), RegisterResponse.class);
        assertThat(heartbeat(node, 1, IDLE).status()).isEqualTo(200);

        Reply weak = changesNothing(() -> call("POST", REGISTER, JOIN_TOKEN,
                request("id-proposed-weak", "h", Map.of(), "srn_short")));
        assertProblem(weak, 400);
        assertThat(weak.body().path("field").asString()).isEqualTo("nodeCredential");
        assertThat(weak.raw().body()).doesNotContain("srn_short");
    }

    @Test
    void anAdminReKeysANodeTheNewCredentialIsShownOnceAndTheOldOneDies() {
        RegisterResponse node = register("id-rekey", Map.of());
        heartbeat(node, 1, IDLE);
        String operator = token("OPERATOR");
        assertProblem(changesNothing(() -> call("POST", "/api/v1/nodes/" + node.nodeId() + "/rekey", operator,
                null)), 403);
        assertProblem(call("POST", "/api/v1/nodes/" + UUID.randomUUID() + "/rekey", ADMIN_TOKEN, null), 404);

        call("POST", "/api/v1/nodes/" + node.nodeId() + "/cordon", ADMIN_TOKEN, null);
        long alerts = count("alert_event");
        Reply rekey = call("POST", "/api/v1/nodes/" + node.nodeId() + "/rekey", ADMIN_TOKEN, null);
        assertThat(rekey.status()).as(rekey.raw().body()).isEqualTo(200);
        assertThat(rekey.body().path("nodeId").asString()).isEqualTo(node.nodeId().toString());
        String fresh = rekey.body().path("nodeCredential").asString();
        assertThat(fresh).startsWith("srn_").isNotEqualTo(node.nodeCredential());
        assertThat(count("alert_event")).as("a re-key is no second 'cordoned' alert").isEqualTo(alerts);

        assertThat(heartbeat(node, 2, IDLE).status()).as("the old credential is dead").isEqualTo(401);
        assertProblem(call("POST", REGISTER, JOIN_TOKEN,
                request("id-rekey", "id-rekey.local", Map.of(), node.nodeCredential())), 403);
        RegisterResponse rekeyed = new RegisterResponse(node.nodeId(), fresh, node.timings());
        assertThat(heartbeat(rekeyed, 3, IDLE).status()).isEqualTo(200);
        Reply rejoin = call("POST", REGISTER, JOIN_TOKEN, request("id-rekey", "id-rekey.local", Map.of(), fresh));
        assertThat(rejoin.status()).isEqualTo(200);
        assertThat(rejoin.body().path("nodeCredential").asString()).isEqualTo(fresh);

        JsonNode event = events(node.nodeId()).stream()
                .filter(e -> e.path("reason").asString().contains("re-keyed")).findFirst().orElseThrow();
        assertThat(event.path("actor").asString()).isEqualTo("operator:bootstrap-admin");
        assertThat(event.path("from").asString()).isEqualTo("CORDONED");
        assertThat(event.path("to").asString()).isEqualTo("CORDONED");
        assertThat(event.toString()).doesNotContain(fresh);
        assertThat(node(node.nodeId()).path("state").asString()).as("a re-key is no transition")
                .isEqualTo("CORDONED");
    }

    @Test
    void anUnknownNodeIdAnswersLikeAWrongCredential() {
        RegisterResponse known = register("id-probe", Map.of());
        String beat = "{\"sequence\":1,\"gpus\":[],\"trainer\":{\"state\":\"IDLE\",\"rank\":-1,\"generation\":0,"
                + "\"lastStep\":-1}}";
        Reply unknown = call("POST", "/api/v1/agents/" + UUID.randomUUID() + "/heartbeat", "srn_x", beat);
        Reply wrong = call("POST", "/api/v1/agents/" + known.nodeId() + "/heartbeat", "srn_x", beat);
        assertProblem(unknown, 401);
        assertProblem(wrong, 401);
        assertThat(unknown.body().path("detail")).isEqualTo(wrong.body().path("detail"));
        assertThat(unknown.body().path("title")).isEqualTo(wrong.body().path("title"));
        Reply unknownReport = call("POST", "/api/v1/agents/" + UUID.randomUUID() + "/reports", "srn_x", "{}");
        assertProblem(unknownReport, 401);
        assertThat(unknownReport.body().path("detail")).isEqualTo(wrong.body().path("detail"));
    }

    @Test
    void controlCharactersAndOverlongValuesAreRefusedNamingTheField() {
        List<Map.Entry<String, RegisterRequest>> bad = List.of(
                Map.entry("hostname", request("id-bad-1", "evil\r\nX-Injected: 1", Map.of(), null)),
                Map.entry("hostname", request("id-bad-2", "host\u0000name", Map.of(), null)),
                Map.entry("hostname", request("id-bad-3", "h".repeat(254), Map.of(), null)),
                Map.entry("hostname", request("id-bad-4", "host name", Map.of(), null)),
                Map.entry("labels.zone", request("id-bad-5", "h", Map.of("zone", "a\nb"), null)),
                Map.entry("labels.zone", request("id-bad-6", "h", Map.of("zone", "a\u0000"), null)),
                Map.entry("labels.zone", request("id-bad-7", "h", Map.of("zone", "z".repeat(254)), null)),
                Map.entry("agentVersion", new RegisterRequest("id-bad-8", "h", List.of(), Map.of(), "1\u0000",
                        null)));
        for (var e : bad) {
            Reply r = changesNothing(() -> call("POST", REGISTER, JOIN_TOKEN, e.getValue()));
            assertProblem(r, 400);
            assertThat(r.body().path("field").asString()).as(e.getValue().toString()).isEqualTo(e.getKey());
        }
    }

    @Test
    void registrationsThatNeverHeartbeatExpireButNodesThatDidStay() {
        RegisterResponse silent = register("id-never", Map.of());
        RegisterResponse worked = register("id-once", Map.of());
        heartbeat(worked, 1, IDLE);
        clock.advance(props.timings().neverReportedGrace().plusSeconds(1));
        sweeper.sweep(clock.instant());
        assertThat(node(silent.nodeId()).path("state").asString()).isEqualTo("FAILED");

        clock.advance(props.unseenRegistrationExpiry());
        sweeper.sweep(clock.instant());
        assertProblem(call("GET", "/api/v1/nodes/" + silent.nodeId(), ADMIN_TOKEN, null), 404);
        assertThat(jdbc.queryForObject("select count(*) from node where id = ?", Long.class, silent.nodeId()))
                .as("deleted, not kept").isZero();
        assertThat(leases.get(silent.nodeId())).isNull();
        assertThat(heartbeat(silent, 1, IDLE).status()).isEqualTo(401);
        assertThat(node(worked.nodeId()).path("state").asString()).as("it was heard from: an operator decides")
                .isIn("SUSPECT", "FAILED");
        RegisterResponse again = register("id-never", Map.of());
        assertThat(again.nodeId()).as("the name is free again").isNotEqualTo(silent.nodeId());
    }

    @Test
    void onlyLiveNodesCountTowardsTheFleetSize() {
        sweeper.sweep(clock.instant());
        int before = leases.liveNodes();
        RegisterResponse a = register("id-live-a", Map.of());
        for (int i = 0; i < 5; i++) {
            register("id-live-unseen-" + i, Map.of());
        }
        sweeper.sweep(clock.instant());
        assertThat(leases.liveNodes()).as("registered, never heard from").isEqualTo(before);
        heartbeat(a, 1, IDLE);
        sweeper.sweep(clock.instant());
        assertThat(leases.liveNodes()).isEqualTo(before + 1);
    }

    @Test
    void anAdminDeletesANodeButNotWhileItWorksForALiveRun() {
        String operator = token("OPERATOR");
        RegisterResponse idle = register("id-delete-idle", Map.of());
        assertProblem(changesNothing(() -> call("DELETE", "/api/v1/nodes/" + idle.nodeId(), operator, null)),
                403);
        assertProblem(call("DELETE", "/api/v1/nodes/" + UUID.randomUUID(), ADMIN_TOKEN, null), 404);
        assertThat(call("DELETE", "/api/v1/nodes/" + idle.nodeId(), ADMIN_TOKEN, null).status()).isEqualTo(204);
        assertProblem(call("GET", "/api/v1/nodes/" + idle.nodeId(), ADMIN_TOKEN, null), 404);
        assertThat(heartbeat(idle, 1, IDLE).status()).as("its credential opens nothing").isEqualTo(401);
        assertThat(jdbc.queryForObject("select count(*) from node where id = ?", Long.class, idle.nodeId()))
                .as("no history: deleted outright").isZero();

        String rack = newRack();
        Agent worker = fleet(rack, 1).get(0);
        Reply submitted = call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0));
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().path("id").asString());
        awaitState(operator, runId, RunState.STARTING);

        Reply busy = changesNothing(() -> call("DELETE", "/api/v1/nodes/" + worker.id(), ADMIN_TOKEN, null));
        assertProblem(busy, 409);
        assertThat(busy.body().path("detail").asString()).contains(runId.toString());
        assertThat(heartbeat(worker, IDLE).desired()).isNotNull();

        assertThat(call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null).status()).isEqualTo(200);
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (heartbeat(worker, trainer(TrainerState.EXITED, runId, 0, 1)).desired() != DesiredState.IDLE) {
            assertThat(System.nanoTime()).as("told IDLE after the cancel").isLessThan(deadline);
            Thread.onSpinWait();
        }
        awaitState(operator, runId, RunState.CANCELLED);
        assertThat(call("DELETE", "/api/v1/nodes/" + worker.id(), ADMIN_TOKEN, null).status()).isEqualTo(204);
        assertProblem(call("GET", "/api/v1/nodes/" + worker.id(), ADMIN_TOKEN, null), 404);
        assertThat(jdbc.queryForObject("select deleted_at is not null from node where id = ?", Boolean.class,
                worker.id())).as("kept for the run's history").isTrue();
        assertThat(call("GET", "/api/v1/runs/" + runId, operator, null).status()).isEqualTo(200);
        RegisterResponse reborn = register(worker.name(), Map.of("rack", rack));
        assertThat(reborn.nodeId()).as("the name is free for a new node").isNotEqualTo(worker.id());
        assertThat(call("GET", "/api/v1/nodes?label=rack=" + rack, ADMIN_TOKEN, null).body().path("items")
                .findValuesAsString("id")).containsExactly(reborn.nodeId().toString());
    }
}
