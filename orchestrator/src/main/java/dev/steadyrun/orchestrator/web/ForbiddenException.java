package dev.steadyrun.orchestrator.web;

/** The caller's role does not allow this (403). Mapped to its status in {@link ProblemHandler}. */
public class ForbiddenException extends RuntimeException {

    public ForbiddenException(String message) {
        super(message);
    }
}
