package dev.steadyrun.orchestrator.agent;

import dev.steadyrun.orchestrator.web.ConflictException;

/** A report from a generation that is not the run's current one, or from a node that holds no such rank (409). */
class StaleGenerationException extends ConflictException {

    StaleGenerationException(String message) {
        super(message);
    }
}
