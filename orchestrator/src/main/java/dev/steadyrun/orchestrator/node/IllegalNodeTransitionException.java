package dev.steadyrun.orchestrator.node;

import dev.steadyrun.orchestrator.web.ConflictException;

/** A state change the transition table does not allow (409 on the API). */
public class IllegalNodeTransitionException extends ConflictException {

    public IllegalNodeTransitionException(NodeState from, NodeState to) {
        super("a " + from + " node cannot become " + to + " (allowed: " + from.next() + ")");
    }
}
