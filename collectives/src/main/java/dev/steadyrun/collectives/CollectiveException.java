package dev.steadyrun.collectives;

/**
 * A collective or the rendezvous failed; {@link #exitCode()} is the {@link dev.steadyrun.protocol.ExitCodes} value
 * the trainer exits with, so the orchestrator classifies the failure without parsing messages.
 */
public class CollectiveException extends RuntimeException {
    private final int exitCode;

    public CollectiveException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
