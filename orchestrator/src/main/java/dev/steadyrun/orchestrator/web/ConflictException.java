package dev.steadyrun.orchestrator.web;

/** The request conflicts with the resource's current state (409). Mapped to its status in {@link ProblemHandler}. */
public class ConflictException extends RuntimeException {

    public ConflictException(String message) {
        super(message);
    }
}
