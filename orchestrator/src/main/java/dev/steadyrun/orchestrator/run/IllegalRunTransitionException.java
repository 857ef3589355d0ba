package dev.steadyrun.orchestrator.run;

import dev.steadyrun.orchestrator.web.ConflictException;

/** A change of state the run's transition table does not allow (409 Conflict). */
public class IllegalRunTransitionException extends ConflictException {

    public IllegalRunTransitionException(RunState from, RunState to) {
        super("a run cannot go from " + from + " to " + to);
    }

    public IllegalRunTransitionException(RunState from, RunAction action) {
        super("cannot " + action.name().toLowerCase() + " a run that is " + from);
    }
}
