package dev.steadyrun.orchestrator.node;

import static dev.steadyrun.orchestrator.node.NodeState.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

class NodeStateTest {

    /** The table as the Javadoc documents it, written out independently so a change to either shows up here. */
    private static final Map<NodeState, Set<NodeState>> DOCUMENTED = Map.of(
            REGISTERED, EnumSet.of(HEALTHY, SUSPECT, FAILED, CORDONED, DRAINING),
            HEALTHY, EnumSet.of(SUSPECT, FAILED, CORDONED, DRAINING, SPARE, REGISTERED),
            SPARE, EnumSet.of(HEALTHY, SUSPECT, FAILED, CORDONED, DRAINING, REGISTERED),
            SUSPECT, EnumSet.of(HEALTHY, FAILED, CORDONED, DRAINING, REGISTERED),
            CORDONED, EnumSet.of(REGISTERED, FAILED, DRAINING),
            DRAINING, EnumSet.of(CORDONED, FAILED, REGISTERED),
            FAILED, EnumSet.of(REGISTERED, CORDONED));

    @Test
    void everyDocumentedTransitionIsAllowedAndNothingElse() {
        for (NodeState from : values()) {
            for (NodeState to : values()) {
                boolean documented = DOCUMENTED.get(from).contains(to);
                assertThat(from.canBecome(to)).as(from + " -> " + to).isEqualTo(documented);
                if (documented) {
                    NodeState.check(from, to); // does not throw
                } else {
                    assertThatThrownBy(() -> NodeState.check(from, to))
                            .isInstanceOf(IllegalNodeTransitionException.class);
                }
            }
        }
    }

    @Test
    void refusedTransitionsSayWhatIsAllowed() {
        assertThatThrownBy(() -> NodeState.check(FAILED, HEALTHY))
                .isInstanceOf(IllegalNodeTransitionException.class)
                .hasMessageContaining("a FAILED node cannot become HEALTHY")
                .hasMessageContaining("REGISTERED");
        assertThatThrownBy(() -> NodeState.check(CORDONED, HEALTHY)).hasMessageContaining("CORDONED");
        assertThatThrownBy(() -> NodeState.check(REGISTERED, SPARE)).hasMessageContaining("SPARE");
        assertThatThrownBy(() -> NodeState.check(HEALTHY, HEALTHY)).hasMessageContaining("HEALTHY");
    }

    @Test
    void failedIsTheOnlyUnwatchedStateAndEveryWatchedStateCanFail() {
        for (NodeState s : values()) {
            assertThat(s.watched()).isEqualTo(s != FAILED);
            if (s != FAILED) {
                assertThat(s.canBecome(FAILED)).as(s + " -> FAILED").isTrue();
            }
        }
    }
}
