package dev.steadyrun.orchestrator.web;

/** The resource does not exist (404). Mapped to its status in {@link ProblemHandler}. */
public class NotFoundException extends RuntimeException {

    public NotFoundException(String message) {
        super(message);
    }
}
