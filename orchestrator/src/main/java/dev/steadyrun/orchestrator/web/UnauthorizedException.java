package dev.steadyrun.orchestrator.web;

/** No valid credential was presented (401). Mapped to its status in {@link ProblemHandler}. */
public class UnauthorizedException extends RuntimeException {

    public UnauthorizedException(String message) {
        super(message);
    }
}
