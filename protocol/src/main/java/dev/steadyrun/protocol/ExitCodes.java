package dev.steadyrun.protocol;

/**
 * Exit codes of the trainer-engine, shared so that the agent and the orchestrator classify an exit the same
 * way: infrastructure failures do not consume a run's restart budget, user-code failures do.
 */
public final class ExitCodes {
    public static final int OK = 0;
    /** The configuration or the command line was invalid (user error). */
    public static final int BAD_CONFIG = 2;
    /** The checkpoint to restore was corrupt or incomplete (checksum mismatch, missing file). */
    public static final int CORRUPT_CHECKPOINT = 3;
    /** The loss became non-finite and the trainer was configured to stop on it. */
    public static final int DIVERGED = 4;
    /** A peer rank died or was unreachable past the collective timeout (infrastructure). */
    public static final int PEER_LOST = 5;
    /** Refused by fencing: this rank's generation is older than its peers'. */
    public static final int STALE_GENERATION = 6;
    /** 128 + SIGTERM: stopped on request. */
    public static final int TERMINATED = 143;
    /** 128 + SIGKILL. */
    public static final int KILLED = 137;

    private ExitCodes() {
    }

    /** True when the exit says nothing about the user's code: the machine, the network or the orchestrator did it. */
    public static boolean isInfrastructure(int code) {
        return code == PEER_LOST || code == STALE_GENERATION || code == TERMINATED || code == KILLED
                || code == CORRUPT_CHECKPOINT || code == 134 /* SIGABRT from the native library */
                || code == 139 /* SIGSEGV */;
    }
}
