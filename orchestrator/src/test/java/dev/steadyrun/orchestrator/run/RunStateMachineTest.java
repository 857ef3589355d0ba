package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

class RunStateMachineTest {

    @Test
    void aPlacementReasonNamingA992RankGangFitsTheReasonColumns() {
        String reason = "placed generation 1 on " + IntStream.range(0, 992).mapToObj(i -> "soak-" + i)
                .collect(Collectors.joining(", "));
        String clipped = RunStateMachine.clip(reason);
        assertThat(clipped).hasSize(RunStateMachine.MAX_REASON).endsWith("…")
                .startsWith("placed generation 1 on soak-0, soak-1");
        assertThat(RunStateMachine.clip("placed generation 2 on gpu-1")).isEqualTo("placed generation 2 on gpu-1");
    }
}
