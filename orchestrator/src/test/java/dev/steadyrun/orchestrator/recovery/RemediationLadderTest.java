package dev.steadyrun.orchestrator.recovery;

import static dev.steadyrun.orchestrator.recovery.RemediationLadder.Action.PAUSE_AND_CALL_HUMAN;
import static dev.steadyrun.orchestrator.recovery.RemediationLadder.Action.RESTART_FROM_LATEST;
import static dev.steadyrun.orchestrator.recovery.RemediationLadder.Action.ROLLBACK_AND_RESTART;
import static dev.steadyrun.orchestrator.recovery.RemediationLadder.Action.STOP_NO_PROGRESS;
import static dev.steadyrun.orchestrator.recovery.RemediationLadder.Action.SWAP_NODE_AND_RESTART;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.recovery.RemediationLadder.Decision;
import dev.steadyrun.orchestrator.recovery.RemediationLadder.History;
import dev.steadyrun.orchestrator.recovery.RemediationLadder.Incident;
import dev.steadyrun.protocol.RestartKnobs;

import tools.jackson.databind.ObjectMapper;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

class RemediationLadderTest {

    private final RemediationLadder ladder = new RemediationLadder(RecoveryPolicy.DEFAULT);

    @Test
    void divergenceClimbsTheOptStyleLadderThenCallsAHuman() {
        List<Decision> decisions = new ArrayList<>();
        for (int n = 0; n < 4; n++) {
            decisions.add(ladder.decide(Incident.DIVERGENCE, new History(n, 0, List.of(500L))));
        }
        assertThat(decisions).extracting(Decision::action)
                .containsExactly(ROLLBACK_AND_RESTART, ROLLBACK_AND_RESTART, ROLLBACK_AND_RESTART, PAUSE_AND_CALL_HUMAN);
        assertThat(decisions.get(0).knobs()).isEqualTo(new RestartKnobs(null, null, null, true, 0, null));
        assertThat(decisions.get(1).knobs()).isEqualTo(new RestartKnobs(0.9, null, 0.3, true, 0, null));
        assertThat(decisions.get(2).knobs()).isEqualTo(new RestartKnobs(0.9, null, 0.3, true, 200, null));
        assertThat(decisions.get(3).knobs()).isEqualTo(RestartKnobs.NONE);
        assertThat(decisions.get(3).reasons()).anySatisfy(r -> assertThat(r).contains("ladder is exhausted"));
        assertThat(decisions).noneMatch(Decision::consumesBudget);
    }

    @Test
    void theLadderIsThePolicysData() {
        RecoveryPolicy oneRung = RecoveryPolicy.parse(new ObjectMapper().readTree(
                "{\"divergenceLadder\": [{\"lrMultiplier\": 0.5, \"skipBatches\": 1000}]}"));
        RemediationLadder custom = new RemediationLadder(oneRung);
        assertThat(custom.decide(Incident.DIVERGENCE, History.NONE).knobs())
                .isEqualTo(new RestartKnobs(0.5, null, null, false, 1000, null));
        assertThat(custom.decide(Incident.DIVERGENCE, new History(1, 0, List.of())).action())
                .isEqualTo(PAUSE_AND_CALL_HUMAN);
    }

    @Test
    void userCodeCrashesConsumeTheBudgetUntilItIsGone() {
        int budget = RecoveryPolicy.DEFAULT.restartBudget();
        for (int used = 0; used < budget; used++) {
            Decision d = ladder.decide(Incident.USER_CODE_CRASH, new History(0, used, List.of(100L)));
            assertThat(d.action()).isEqualTo(RESTART_FROM_LATEST);
            assertThat(d.consumesBudget()).isTrue();
        }
        Decision out = ladder.decide(Incident.USER_CODE_CRASH, new History(0, budget, List.of(100L)));
        assertThat(out.action()).isEqualTo(PAUSE_AND_CALL_HUMAN);
        assertThat(out.reasons()).anySatisfy(r -> assertThat(r).contains("budget used up"));
    }

    @Test
    void infrastructureFailuresDoNotConsumeTheBudgetEvenWhenItIsGone() {
        History spent = new History(0, RecoveryPolicy.DEFAULT.restartBudget(), List.of(100L));
        assertThat(ladder.decide(Incident.HARDWARE, spent))
                .satisfies(d -> assertThat(d.action()).isEqualTo(SWAP_NODE_AND_RESTART))
                .satisfies(d -> assertThat(d.consumesBudget()).isFalse());
        assertThat(ladder.decide(Incident.STRAGGLER, spent).action()).isEqualTo(SWAP_NODE_AND_RESTART);
        assertThat(ladder.decide(Incident.INFRASTRUCTURE_CRASH, spent))
                .satisfies(d -> assertThat(d.action()).isEqualTo(RESTART_FROM_LATEST))
                .satisfies(d -> assertThat(d.consumesBudget()).isFalse());
        assertThat(ladder.decide(Incident.HANG, spent).consumesBudget()).isFalse();
    }

    @Test
    void stopsWhenRestartsMakeNoProgress() {
        // two stalled restarts are tolerated, the third in a row stops the run, whatever the incident
        assertThat(ladder.decide(Incident.HARDWARE, new History(0, 0, List.of(800L, 0L, 0L))).action())
                .isEqualTo(SWAP_NODE_AND_RESTART);
        for (Incident incident : Incident.values()) {
            Decision d = ladder.decide(incident, new History(0, 0, List.of(800L, 0L, 0L, 0L)));
            assertThat(d.action()).as("%s", incident).isEqualTo(STOP_NO_PROGRESS);
            assertThat(d.restarts()).isFalse();
        }
        // progress in between resets the count
        assertThat(ladder.decide(Incident.HARDWARE, new History(0, 0, List.of(0L, 0L, 5L, 0L))).action())
                .isEqualTo(SWAP_NODE_AND_RESTART);
    }

    @Test
    void backoffDoublesPerRestartWithoutProgressAndIsCapped() {
        assertThat(ladder.decide(Incident.HANG, History.NONE).backoff()).isEqualTo(Duration.ofSeconds(10));
        assertThat(ladder.decide(Incident.HANG, new History(0, 0, List.of(0L))).backoff())
                .isEqualTo(Duration.ofSeconds(20));
        assertThat(ladder.decide(Incident.HANG, new History(0, 0, List.of(0L, 0L))).backoff())
                .isEqualTo(Duration.ofSeconds(40));
        assertThat(ladder.decide(Incident.HANG, new History(0, 0, List.of(0L, 0L, 70L))).backoff())
                .isEqualTo(Duration.ofSeconds(10));
        assertThat(ladder.backoff(5)).isEqualTo(Duration.ofMinutes(5));
        assertThat(ladder.backoff(60)).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void haltsDoNotWait() {
        Decision d = ladder.decide(Incident.DIVERGENCE, new History(3, 0, List.of()));
        assertThat(d.backoff()).isZero();
        assertThat(d.restarts()).isFalse();
    }
}
