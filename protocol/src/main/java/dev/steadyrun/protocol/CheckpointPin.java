package dev.steadyrun.protocol;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * A checkpoint the run's trainer must not delete: the orchestrator chose {@code step} to restore while the old
 * generation's trainer may still be writing checkpoints, and its retention would delete older ones. Sent with the
 * heartbeat answer that stops the old generation; the agent of rank 0 records it, before stopping the trainer, in
 * the checkpoint directory's {@value #FILE} (one step per line), which the trainer's retention reads before every
 * deletion. The next generation's rank 0 removes the file once it restored.
 */
public record CheckpointPin(UUID runId, long step) {

    public static final String FILE = "pinned-steps";

    /** Adds {@code step} to the directory's pins (atomically: a reader sees the old list or the new one). */
    public static void add(Path checkpointDir, long step) throws IOException {
        Set<Long> steps = new TreeSet<>(read(checkpointDir));
        if (!steps.add(step)) {
            return;
        }
        // ".tmp-" is what the checkpoint store deletes as a leftover when a write of this is cut short
        Path tmp = checkpointDir.resolve(".tmp-" + FILE + "-" + UUID.randomUUID());
        Files.writeString(tmp, steps.stream().map(String::valueOf).collect(Collectors.joining("\n", "", "\n")),
                StandardCharsets.UTF_8);
        Files.move(tmp, checkpointDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    /** The pinned steps; empty when there is no pin file. A malformed file is an IOException (delete nothing). */
    public static Set<Long> read(Path checkpointDir) throws IOException {
        try {
            Set<Long> steps = new TreeSet<>();
            for (String line : Files.readAllLines(checkpointDir.resolve(FILE), StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    steps.add(Long.parseLong(line.strip()));
                }
            }
            return steps;
        } catch (NoSuchFileException e) {
            return Set.of();
        } catch (NumberFormatException e) {
            throw new IOException("malformed " + checkpointDir.resolve(FILE) + ": " + e.getMessage(), e);
        }
    }

    /** The restore is done: nothing stays pinned. */
    public static void clear(Path checkpointDir) throws IOException {
        Files.deleteIfExists(checkpointDir.resolve(FILE));
    }
}
