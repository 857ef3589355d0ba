package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

class RecoveryPolicyTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static RecoveryPolicy parse(String json) {
        return RecoveryPolicy.parse(JSON.readTree(json));
    }

    @Test
    void defaultsFollowTheirSources() {
        RecoveryPolicy d = RecoveryPolicy.DEFAULT;
        assertThat(d.spikeEwmaSpan()).isEqualTo(9);
        assertThat(d.healthyLossScale()).isEqualTo(1.0);
        assertThat(d.rollbackMarginSteps()).isEqualTo(100);
        assertThat(d.noProgressRestarts()).isEqualTo(3);
        assertThat(d.divergenceLadder()).containsExactly(
                new LadderRung(true, 1.0, null, 0),
                new LadderRung(true, 0.9, 0.3, 0),
                new LadderRung(true, 0.9, 0.3, 200));
    }

    @Test
    void emptyOrMissingPolicyIsTheDefault() {
        assertThat(RecoveryPolicy.parse(null)).isEqualTo(RecoveryPolicy.DEFAULT);
        assertThat(parse("null")).isEqualTo(RecoveryPolicy.DEFAULT);
        assertThat(parse("{}")).isEqualTo(RecoveryPolicy.DEFAULT);
    }

    @Test
    void namedKeysOverrideTheDefaultsAndTheRestStay() {
        RecoveryPolicy p = parse("""
                {"spikeRatio": 2.5, "rollbackMarginSteps": 300, "hangFloor": "PT2M", "restartBudget": 0,
                 "divergenceLadder": [{"lrMultiplier": 0.5, "clipNorm": 0.1, "skipBatches": 500}]}""");
        assertThat(p.spikeRatio()).isEqualTo(2.5);
        assertThat(p.rollbackMarginSteps()).isEqualTo(300);
        assertThat(p.hangFloor()).isEqualTo(Duration.ofMinutes(2));
        assertThat(p.restartBudget()).isZero();
        assertThat(p.divergenceLadder()).containsExactly(new LadderRung(false, 0.5, 0.1, 500));
        assertThat(p.spikeEwmaSpan()).isEqualTo(RecoveryPolicy.DEFAULT.spikeEwmaSpan());
        assertThat(p.backoffMax()).isEqualTo(RecoveryPolicy.DEFAULT.backoffMax());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"spikeRato\": 2}                                  | recoveryPolicy.spikeRato              | not a recovery-policy setting",
            "{\"spikeRatio\": 0.9}                               | recoveryPolicy.spikeRatio             | above 1.0",
            "{\"spikeRatio\": \"high\"}                          | recoveryPolicy.spikeRatio             | must be a number",
            "{\"spikeEwmaSpan\": 2.5}                            | recoveryPolicy.spikeEwmaSpan          | whole number",
            "{\"spikeEwmaSpan\": 0}                              | recoveryPolicy.spikeEwmaSpan          | at least 1",
            "{\"maxOverflowRate\": 1.5}                          | recoveryPolicy.maxOverflowRate        | at most 1",
            "{\"hangFloor\": \"10 minutes\"}                     | recoveryPolicy.hangFloor              | ISO-8601",
            "{\"hangFloor\": 600}                                | recoveryPolicy.hangFloor              | ISO-8601",
            "{\"backoffInitial\": \"PT0S\"}                      | recoveryPolicy.backoffInitial         | positive",
            "{\"backoffMax\": \"PT1S\"}                          | recoveryPolicy.backoffMax             | backoffInitial",
            "{\"divergenceLadder\": {}}                          | recoveryPolicy.divergenceLadder       | array",
            "{\"divergenceLadder\": [3]}                         | recoveryPolicy.divergenceLadder[0]    | JSON object",
            "{\"divergenceLadder\": [{}, {\"lr\": 0.9}]}         | recoveryPolicy.divergenceLadder[1].lr | not a recovery-policy setting",
            "{\"divergenceLadder\": [{\"lrMultiplier\": 1.1}]}   | recoveryPolicy.divergenceLadder[0].lrMultiplier | at most 1",
            "{\"divergenceLadder\": [{\"clipNorm\": -1}]}        | recoveryPolicy.divergenceLadder[0].clipNorm     | above 0",
            "{\"divergenceLadder\": [{\"skipBatches\": -5}]}     | recoveryPolicy.divergenceLadder[0].skipBatches  | 0 or more",
            "{\"divergenceLadder\": [{\"resetLossScaler\": 1}]}  | recoveryPolicy.divergenceLadder[0].resetLossScaler | true or false",
            "[1]                                                 | recoveryPolicy                        | JSON object",
    })
    void badInputNamesTheField(String json, String field, String message) {
        assertThatThrownBy(() -> parse(json))
                .isInstanceOfSatisfying(InvalidRecoveryPolicyException.class, e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.reason()).contains(message);
                });
    }

    @Test
    void anEmptyLadderMeansTheFirstDivergenceCallsAHuman() {
        JsonNode json = JSON.readTree("{\"divergenceLadder\": []}");
        assertThat(RecoveryPolicy.parse(json).divergenceLadder()).isEmpty();
    }
}
