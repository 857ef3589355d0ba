package dev.steadyrun.orchestrator.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.orchestrator.StepTicker;
import dev.steadyrun.orchestrator.node.LeaseTable;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Fail closed, through the real application: when the orchestrator cannot confirm its database lock within
 * lock-confirm-within, every agent endpoint answers 503 with Retry-After, and leases are not judged, until a check
 * confirms it again. Holding the lock's monitor stands for a check that hangs (the background check cannot run).
 */
class AgentGateTest extends OrchestratorIntegrationTest {

    @Autowired
    private ActiveOrchestratorLock lock;
    @Autowired
    private StepTicker ticker;
    @Autowired
    private DatabaseProperties props;
    @Autowired
    private LeaseTable leases;

    @Test
    void agentsAreRefusedWith503UntilTheTerminatedLockSessionIsReplaced() throws Exception {
        RegisterResponse node = register("gate-" + UUID.randomUUID(), Map.of());
        assertThat(heartbeat(node, 1, TrainerStatus.idle()).status()).isEqualTo(200);

        terminateLockSession();
        synchronized (lock) { // the check hangs: nothing confirms the lock while the deadline passes
            ticker.advance(props.lockConfirmWithin().plusMillis(1));
            Reply beat = heartbeat(node, 2, TrainerStatus.idle());
            assertThat(beat.status()).isEqualTo(503);
            assertThat(beat.raw().headers().firstValue("Content-Type")).hasValue("application/problem+json");
            assertThat(beat.raw().headers().firstValue("Retry-After"))
                    .hasValue(Long.toString(props.lockCheck().toSeconds()));
            assertThat(beat.body().get("detail").asString()).contains("database lock");
            Reply report = call("POST", "/api/v1/agents/" + node.nodeId() + "/reports", node.nodeCredential(),
                    new TrainerReport(UUID.randomUUID(), 0, 1, List.of(), List.of(), 0L));
            assertThat(report.status()).isEqualTo(503);
            Reply join = call("POST", "/api/v1/agents/register", JOIN_TOKEN, new RegisterRequest("gate-new-"
                    + UUID.randomUUID(), "h.local", List.of(), Map.of(), "test"));
            assertThat(join.status()).isEqualTo(503);
            assertThat(leases.isServing()).as("no lease is judged meanwhile").isFalse();
        }
        lock.check(); // the terminated session has ended: the lock is taken again on a new connection
        assertThat(lock.confirmed()).isTrue();
        assertThat(leases.isServing()).isTrue();
        assertThat(heartbeat(node, 3, TrainerStatus.idle()).status()).isEqualTo(200);
    }

    private void terminateLockSession() {
        Integer pid = jdbc.queryForObject("select pid from pg_locks where locktype = 'advisory' and granted"
                + " and classid = ? and objid = ? and database = (select oid from pg_database"
                + " where datname = current_database())", Integer.class,
                ActiveOrchestratorLock.KEY_CLASS, ActiveOrchestratorLock.KEY_ID);
        assertThat(jdbc.queryForObject("select pg_terminate_backend(?, 10000)", Boolean.class, pid)).isTrue();
    }
}
