package dev.steadyrun.orchestrator.web;

import java.time.Duration;

/**
 * This orchestrator cannot serve the request now; the caller should retry after {@link #retryAfter()} (503 with a
 * Retry-After header). Mapped to its status in {@link ProblemHandler}.
 */
public class ServiceUnavailableException extends RuntimeException {

    private final Duration retryAfter;

    public ServiceUnavailableException(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = retryAfter;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}
