package dev.steadyrun.protocol;

import java.util.List;
import java.util.UUID;

/**
 * The trainer's state as carried in each heartbeat. After an orchestrator restart this is how the
 * orchestrator learns what is still running, so healthy training is never killed by it.
 *
 * @param generation the generation the trainer was launched for; 0 when idle
 * @param exitCode   set once the state is EXITED
 * @param lastStep   the last optimizer step the trainer reported, -1 before the first
 * @param logTail    the last lines of the trainer's stderr, sent when it exited
 * @param threadDump a thread dump taken by the agent's hang watchdog before it killed the trainer, or, starting
 *                   with {@link #NO_THREAD_DUMP}, why none could be taken
 */
public record TrainerStatus(TrainerState state, UUID runId, int rank, long generation, Integer exitCode,
                            long lastStep, List<String> logTail, String threadDump) {

    /** How a {@code threadDump} that holds no dump begins: the reason none could be taken follows. */
    public static final String NO_THREAD_DUMP = "no thread dump: ";

    public static TrainerStatus idle() {
        return new TrainerStatus(TrainerState.IDLE, null, -1, 0, null, -1, List.of(), null);
    }
}
