package dev.steadyrun.orchestrator.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Issue 15: the ranks of a generation authenticate each other with a secret only they get. It reaches them in the
 * heartbeat's assignment and nowhere else: no API response and no log line shows it.
 */
@ExtendWith(OutputCaptureExtension.class)
class RingSecretTest extends RunsApiSupport {

    @Autowired
    SchedulingLoop loop;

    private List<Assignment> placedRun(String operator, int worldSize) {
        String rack = newRack();
        List<Agent> agents = fleet(rack, worldSize);
        UUID runId = UUID.fromString(call("POST", "/api/v1/runs", operator, tinyRun(rack, worldSize, 0)).body()
                .get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        loop.runOnce();
        return agents.stream().map(a -> heartbeat(a, TrainerStatus.idle())).peek(
                answer -> assertThat(answer.desired()).isEqualTo(DesiredState.RUN)).map(a -> a.assignment()).toList();
    }

    @Test
    void everyGenerationHasItsOwnSecretThatOnlyItsRanksSee(CapturedOutput output) {
        String operator = token("OPERATOR");
        List<Assignment> ranks = placedRun(operator, 2);
        RingSecret secret = ranks.get(0).ringSecret();
        assertThat(secret).isNotNull();
        assertThat(secret.bytes()).hasSize(RingSecret.BYTES);
        assertThat(ranks.get(1).ringSecret()).as("both ranks of the generation").isEqualTo(secret);
        assertThat(placedRun(operator, 1).get(0).ringSecret()).as("another generation's").isNotEqualTo(secret)
                .isNotNull();
        assertThat(ranks.get(0).toString()).doesNotContain(secret.value());

        UUID runId = ranks.get(0).runId();
        String hex = HexFormat.of().formatHex(secret.bytes());
        for (String path : List.of("/api/v1/runs/" + runId, "/api/v1/runs/" + runId + "/generations",
                "/api/v1/runs/" + runId + "/events", "/api/v1/runs", "/api/v1/runs/" + runId + "/incidents",
                "/api/v1/runs/" + runId + "/checkpoints")) {
            Reply reply = call("GET", path, operator, null);
            assertThat(reply.status()).as(path).isEqualTo(200);
            assertThat(reply.raw().body()).as(path).doesNotContain(secret.value()).doesNotContainIgnoringCase(hex);
        }
        assertThat(output.getAll()).doesNotContain(secret.value()).doesNotContainIgnoringCase(hex);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }
}
