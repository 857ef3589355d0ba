package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class RunStateTest {

    @ParameterizedTest
    @CsvSource({
            "PENDING, STARTING", "PENDING, PAUSED", "PENDING, CANCELLED",
            "STARTING, RUNNING", "STARTING, PAUSING", "STARTING, CANCELLING", "STARTING, RECOVERING",
            "RUNNING, PAUSING", "RUNNING, CANCELLING", "RUNNING, SUCCEEDED", "RUNNING, FAILED",
            "PAUSING, PAUSED", "PAUSING, CANCELLING", "PAUSED, PENDING", "PAUSED, CANCELLED",
            "RECOVERING, PENDING", "RECOVERING, STARTING", "CANCELLING, CANCELLED"})
    void allowedTransitionsPassTheGuard(RunState from, RunState to) {
        assertThatCode(() -> RunState.checkTransition(from, to)).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @CsvSource({
            "PENDING, RUNNING", "PENDING, SUCCEEDED", "STARTING, PAUSED", "RUNNING, PENDING", "RUNNING, PAUSED",
            "PAUSED, RUNNING", "PAUSED, STARTING", "PAUSING, RUNNING", "CANCELLING, PAUSED", "CANCELLING, RUNNING",
            "CANCELLED, PENDING", "SUCCEEDED, RUNNING", "FAILED, PENDING", "RUNNING, RUNNING"})
    void refusedTransitionsThrow(RunState from, RunState to) {
        assertThatThrownBy(() -> RunState.checkTransition(from, to))
                .isInstanceOf(IllegalRunTransitionException.class)
                .hasMessageContaining(from.name()).hasMessageContaining(to.name());
    }

    @ParameterizedTest
    @EnumSource(value = RunState.class, names = {"CANCELLED", "SUCCEEDED", "FAILED"})
    void terminalStatesHaveNoWayOut(RunState terminal) {
        assertThat(terminal.isTerminal()).isTrue();
        assertThat(terminal.successors()).isEmpty();
    }

    @Test
    void everyNonTerminalStateCanStillFailOrBeCancelled() {
        for (RunState s : EnumSet.complementOf(EnumSet.copyOf(RunState.TERMINAL))) {
            assertThat(s.canMoveTo(RunState.FAILED) || s.canMoveTo(RunState.CANCELLED)
                    || s.canMoveTo(RunState.CANCELLING)).as(s.name()).isTrue();
        }
    }

    @Test
    void everyActionTargetIsAnEdgeOfTheTable() {
        for (RunAction action : RunAction.values()) {
            for (RunState s : RunState.values()) {
                action.targetFrom(s).ifPresent(t -> assertThat(s.canMoveTo(t)).as(action + " from " + s).isTrue());
            }
        }
    }

    @Test
    void actionsMapStatesAsDocumented() {
        assertThat(RunAction.PAUSE.targetFrom(RunState.RUNNING)).contains(RunState.PAUSING);
        assertThat(RunAction.PAUSE.targetFrom(RunState.PENDING)).contains(RunState.PAUSED);
        assertThat(RunAction.RESUME.targetFrom(RunState.PAUSED)).contains(RunState.PENDING);
        assertThat(RunAction.RESUME.targetFrom(RunState.CANCELLED)).isEmpty();
        assertThat(RunAction.RESUME.targetFrom(RunState.RUNNING)).isEmpty();
        assertThat(RunAction.CANCEL.targetFrom(RunState.PAUSED)).contains(RunState.CANCELLED);
        assertThat(RunAction.CANCEL.targetFrom(RunState.RUNNING)).contains(RunState.CANCELLING);
        assertThat(RunAction.CANCEL.targetFrom(RunState.CANCELLED)).isEmpty();
        assertThat(RunAction.PAUSE.targetFrom(RunState.PAUSED)).isEmpty();
    }
}
