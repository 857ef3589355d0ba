package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.TrainerStatus;

/** A restart of a run that names a program swaps in only a node that has the program. */
class ProgramRecoveryTest extends RecoverySupport {

    private Agent node(String name, String rack, List<ProgramRef> programs) {
        Agent agent = new Agent(name, register(name, Map.of("rack", rack), programs));
        heartbeat(agent, TrainerStatus.idle());
        return agent;
    }

    @Test
    void aLostRankIsReplacedByANodeWithTheProgramNotTheFirstFreeOne() {
        operator = token("OPERATOR");
        String rack = newRack();
        ProgramRef program = new ProgramRef("prog-" + UUID.randomUUID().toString().substring(0, 8), "1");
        assertThat(call("POST", "/api/v1/programs", ADMIN_TOKEN,
                Map.of("name", program.name(), "version", program.version())).status()).isEqualTo(201);
        Agent first = node(rack + "-a", rack, List.of(program));
        Agent plain = node(rack + "-b", rack, List.of()); // free and first in name order once -a is lost
        Agent other = node(rack + "-c", rack, List.of(program));
        UUID runId = submit(rack, 1, 0, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"),
                Map.of("program", Map.of("name", program.name(), "version", program.version())));
        Map<Integer, Agent> gen1 = ranks(List.of(first, plain, other), 1);
        Agent lost = gen1.get(0);
        assertThat(lost).as("placement packs by name: -a, the node -b would follow").isEqualTo(first);
        Agent replacement = other;

        clock.advance(Duration.ofSeconds(3));
        heartbeat(plain, TrainerStatus.idle());
        heartbeat(replacement, TrainerStatus.idle());
        sweeper.sweep(clock.instant());
        assertThat(incidents(runId).get(0).get("kind").asString()).isEqualTo("NODE_LOST");
        passBackoff(Duration.ofSeconds(1), List.of(plain, replacement));

        Map<Integer, Agent> gen2 = ranks(List.of(plain, replacement), 2);
        assertThat(gen2).containsExactly(Map.entry(0, replacement));
        assertThat(heartbeat(plain, TrainerStatus.idle()).desired()).isNotEqualTo(DesiredState.RUN);
        assertThat(assignment(replacement).program()).isEqualTo(program);
    }
}
