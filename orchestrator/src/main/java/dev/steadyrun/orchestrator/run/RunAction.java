package dev.steadyrun.orchestrator.run;

import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * An operator's action on a run and the state it leads to from each state where it makes sense. The result
 * still passes {@link RunState#checkTransition}; a state missing here refuses the action.
 */
public enum RunAction {
    PAUSE(Map.of(
            RunState.PENDING, RunState.PAUSED,
            RunState.STARTING, RunState.PAUSING,
            RunState.RUNNING, RunState.PAUSING,
            RunState.RECOVERING, RunState.PAUSING)),
    RESUME(Map.of(
            RunState.PAUSED, RunState.PENDING)),
    CANCEL(Map.of(
            RunState.PENDING, RunState.CANCELLED,
            RunState.PAUSED, RunState.CANCELLED,
            RunState.STARTING, RunState.CANCELLING,
            RunState.RUNNING, RunState.CANCELLING,
            RunState.RECOVERING, RunState.CANCELLING,
            RunState.PAUSING, RunState.CANCELLING));

    private final Map<RunState, RunState> targets;

    RunAction(Map<RunState, RunState> targets) {
        this.targets = new EnumMap<>(targets);
    }

    public Optional<RunState> targetFrom(RunState current) {
        return Optional.ofNullable(targets.get(current));
    }
}
