package dev.steadyrun.protocol;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * TEST TOOL on the wire: a fault the orchestrator's chaos API (off by default) asks one node's agent to inject, in
 * the heartbeat answer. The agent acts only on the run, generation and rank it is running; the trainer faults reach
 * the trainer as one line ({@link Kind#trainerLine()}) in its fault file.
 *
 * @param id         the orchestrator's number for this request, for the logs on both sides
 * @param checkpoint for {@link Kind#CORRUPT_CHECKPOINT}: the name of the checkpoint's directory in the run's
 *                   checkpoint directory (e.g. {@code step-00000100}), never a path; null otherwise
 */
public record ChaosFault(long id, Kind kind, UUID runId, long generation, int rank, String checkpoint) {

    public enum Kind {
        /** The agent kills its trainer and itself at once, as if the host died. */
        KILL_NODE,
        /** The agent reports XID 79 (fallen off the bus) on its first GPU. */
        GPU_FAULT,
        /** The trainer's step loop stops making progress. */
        HANG,
        /** The trainer takes {@link #STRAGGLE_FACTOR} times as long per step. */
        STRAGGLE,
        /** FP16: forced overflows until the loss scale is below 1, then the LR blows up; FP32: the LR at once. */
        DIVERGE,
        /** The agent of rank 0 flips bytes in a checkpoint, so the checksum check refuses it at restore. */
        CORRUPT_CHECKPOINT;

        /** The line the trainer reads from its fault file: {@code hang}, {@code straggle}, {@code diverge}. */
        public String trainerLine() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Whether the trainer itself carries the fault (through its fault file) rather than the agent. */
        public boolean inTrainer() {
            return this == HANG || this == STRAGGLE || this == DIVERGE;
        }
    }

    /**
     * The environment variable naming the trainer's fault file (an environment variable, not an argument: a trainer
     * must ignore variables it does not know, while an unknown argument is refused).
     */
    public static final String FAULT_FILE_ENV = "STEADYRUN_FAULT_FILE";

    /**
     * The trainer's side of the fault file: the lines the agent wrote, stripped, blank ones left out; the file is
     * deleted, so each fault is taken once. None when there is no file.
     */
    public static List<String> take(Path faultFile) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(faultFile);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        Files.delete(faultFile);
        return lines.stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }

    /** A straggling trainer's step time over its normal one. */
    public static final double STRAGGLE_FACTOR = 3;

    /** A checkpoint directory name as the chaos API sends it: one plain path element. */
    public static final String CHECKPOINT_NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,99}";
}
