package dev.steadyrun.protocol;

import java.util.List;

/**
 * The version of the contract between the agent and a training program (docs/trainer-protocol.md): the command
 * line, the stdout lines, the exit codes and the checkpoint rules. The agent announces it to the program in
 * {@link #ENV}; a program that was written for another version refuses to start (exit {@link ExitCodes#BAD_CONFIG})
 * rather than misread its arguments.
 */
public final class TrainerProtocol {

    /** The protocol this build speaks. A change that an existing program could misread is a new version. */
    public static final int VERSION = 1;
    /** The environment variable in which the agent gives the program {@link #VERSION}. */
    public static final String ENV = "STEADYRUN_TRAINER_PROTOCOL";
    /**
     * The node's memory snapshot root (tmpfs, e.g. {@code /dev/shm/steadyrun}), passed from the agent's environment
     * when its operator sets it: the built-in trainer keeps a run's memory snapshots under {@code ROOT/run-<id>}.
     * Optional: a program may ignore it, and without it there are no memory snapshots.
     */
    public static final String SNAPSHOT_ROOT_ENV = "STEADYRUN_SNAPSHOT_ROOT";

    /**
     * The members every {@code "type":"step"} line must carry: what the detectors, the straggler score and the
     * metrics store read. {@code activationNorms} and {@code clipNorm} may be left out.
     */
    public static final List<String> STEP_FIELDS = List.of("type", "step", "tokensSeen", "loss", "gradNorm",
            "lossScale", "overflow", "lr", "tokensPerSec", "stepTimeMs", "rssBytes");
    /** The members every {@code "type":"checkpoint"} line must carry; {@code removedSteps} may be left out. */
    public static final List<String> CHECKPOINT_FIELDS = List.of("type", "step", "tokensSeen", "path", "lossScale",
            "loss", "manifestSha256", "bytes");

    private TrainerProtocol() {
    }
}
