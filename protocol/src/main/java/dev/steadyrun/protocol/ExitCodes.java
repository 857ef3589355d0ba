package dev.steadyrun.protocol;

/**
 * Exit codes of a trainer and what each one means, defined once: the trainer exits with them, the agent reports
 * them, and the orchestrator opens the incident {@link #meaningOf} says and charges the restart budget only for
 * the user's code.
 *
 * <p>For reference, Kubeflow's training operator treats exit codes 1, 2, 126, 127, 128 and 139 as permanent (the
 * user's fault, not retried). We agree on 1, 2 ({@link #BAD_CONFIG}), 126, 127 and 128, and differ on 139: a SIGSEGV
 * in our trainer comes from the native ND4J library or the driver, not from the user's configuration, so it is
 * infrastructure here. 137 and 143 (SIGKILL, SIGTERM) are how our own stops end a trainer (the agent stops it with
 * SIGTERM, then SIGKILL), so they are infrastructure too.
 */
public final class ExitCodes {
    public static final int OK = 0;
    /** The configuration or the command line was invalid (user error). */
    public static final int BAD_CONFIG = 2;
    /** The checkpoint to restore is corrupt: a checksum does not match (its files are there and wrong). */
    public static final int CORRUPT_CHECKPOINT = 3;
    /** The loss became non-finite and the trainer was configured to stop on it. */
    public static final int DIVERGED = 4;
    /** A peer rank died or was unreachable past the collective timeout (infrastructure). */
    public static final int PEER_LOST = 5;
    /** Refused by fencing: this rank's generation is older than its peers'. */
    public static final int STALE_GENERATION = 6;
    /**
     * The checkpoint to restore could not be read here (a file or the manifest missing, an I/O error): it may be
     * whole elsewhere, on a node that sees the store, or after a shared-filesystem blip. Never proof of corruption.
     */
    public static final int CHECKPOINT_UNAVAILABLE = 7;
    /** 128 + SIGABRT, from the native library. */
    public static final int ABORTED = 134;
    /** 128 + SIGKILL. */
    public static final int KILLED = 137;
    /** 128 + SIGSEGV, from the native library or the driver. */
    public static final int SEGFAULT = 139;
    /** 128 + SIGTERM: stopped on request. */
    public static final int TERMINATED = 143;

    /** What an exit means for recovery. */
    public enum Meaning {
        /** The trainer finished its part of the run. */
        FINISHED(false),
        /** The loss diverged: a divergence, whether or not its step report arrived first. */
        DIVERGED(false),
        /** The checkpoint it was told to restore is corrupt (a checksum mismatch). */
        RESTORE_FAILED(false),
        /** The checkpoint it was told to restore could not be read on this node; it may be readable elsewhere. */
        RESTORE_UNAVAILABLE(false),
        /** The machine, the network or the orchestrator ended it. */
        INFRASTRUCTURE(false),
        /** The user's code or configuration failed. */
        USER_CODE(true);

        private final boolean chargesRestartBudget;

        Meaning(boolean chargesRestartBudget) {
            this.chargesRestartBudget = chargesRestartBudget;
        }

        /** A restart after this exit is charged to the run's restart budget. */
        public boolean chargesRestartBudget() {
            return chargesRestartBudget;
        }
    }

    private ExitCodes() {
    }

    public static Meaning meaningOf(int code) {
        return switch (code) {
            case OK -> Meaning.FINISHED;
            case DIVERGED -> Meaning.DIVERGED;
            case CORRUPT_CHECKPOINT -> Meaning.RESTORE_FAILED;
            case CHECKPOINT_UNAVAILABLE -> Meaning.RESTORE_UNAVAILABLE;
            case PEER_LOST, STALE_GENERATION, ABORTED, KILLED, SEGFAULT, TERMINATED -> Meaning.INFRASTRUCTURE;
            default -> Meaning.USER_CODE;
        };
    }
}
