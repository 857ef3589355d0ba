package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.trainer.checkpoint.CheckpointContent;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.trainer.checkpoint.Retention;
import dev.steadyrun.collectives.Collectives;

/**
 * Which checkpoint a launch resumes ({@code --restore}): rank 0 picks it, every rank opens it from the run's shared
 * store (and later reads only its own ranges: {@link DataParallel#restore}).
 */
final class Resume {

    private static final Logger log = LoggerFactory.getLogger(Resume.class);

    private Resume() {
    }

    /**
     * The launch's checkpoint, opened on every rank (manifest and state verified), or null to start from scratch. A
     * collective: rank 0 picks the checkpoint and sends its path and manifest SHA-256, so every rank reads the very
     * manifest rank 0 checked; the ranks agree that each could open it; then checkpoints newer than it are set aside.
     */
    static CheckpointReader open(Trainer.Launch launch, Collectives ring) throws IOException {
        long memoryStep = MemoryRestore.step(launch.restore());
        if (memoryStep >= 0) {
            return fromMemory(launch, memoryStep, ring);
        }
        String chosen = null;
        if (ring.rank() == 0) {
            CheckpointReader picked = pick(launch);
            chosen = picked == null ? null : picked.dir() + "\n" + picked.manifestSha256();
        }
        chosen = DataParallel.broadcastText(ring, chosen);
        if (chosen == null) {
            return null;
        }
        int cut = chosen.lastIndexOf('\n');
        Path dir = Path.of(chosen.substring(0, cut));
        CheckpointReader reader = null;
        IOException failed = null;
        try {
            reader = CheckpointReader.open(dir, chosen.substring(cut + 1));
        } catch (CorruptCheckpointException e) {
            failed = e;
        } catch (IOException e) {
            failed = new CheckpointUnavailableException(dir, "its files", "cannot be read here: " + e);
        }
        DataParallel.agreeOnRestore(ring, failed, dir);
        if (ring.rank() == 0) {
            setAsideNewer(launch, reader.step());
            // the old generation's pin of its restore point has served: this lineage's retention applies
            CheckpointPin.clear(launch.checkpointDir());
        }
        return reader;
    }

    /**
     * A memory snapshot, gathered from the ranks that hold it into a checkpoint of this rank's own
     * ({@link MemoryRestore}) and opened there; the ranks agree that each could open it. The durable store is left as
     * it is: no newer checkpoint exists (the orchestrator chose the snapshot because it was the newest point).
     */
    private static CheckpointReader fromMemory(Trainer.Launch launch, long step, Collectives ring) throws IOException {
        Path dir = MemoryRestore.assemble(launch.snapshotDir(), step, launch.restoreSha256(), ring);
        CheckpointReader reader = null;
        IOException failed = null;
        try {
            reader = CheckpointReader.open(dir, launch.restoreSha256());
        } catch (IOException e) {
            failed = e;
        }
        DataParallel.agreeOnRestore(ring, failed, dir);
        log.info("restoring memory snapshot step {}", step);
        return reader;
    }

    /** Rank 0's choice: the named checkpoint (its manifest must have the pinned SHA-256), the newest valid, or none. */
    private static CheckpointReader pick(Trainer.Launch launch) throws IOException {
        String restore = launch.restore();
        if (restore == null || restore.isBlank()) {
            return null;
        }
        Path dir;
        if (restore.equals("latest")) {
            dir = latest(launch.checkpointDir());
            if (dir == null) {
                log.info("no checkpoint in {}: starting from scratch", launch.checkpointDir());
                return null;
            }
            log.info("restoring {}", dir);
        } else {
            dir = Path.of(restore);
        }
        try {
            return CheckpointReader.open(dir, launch.restoreSha256());
        } catch (CorruptCheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw new CheckpointUnavailableException(dir, "its files", "cannot be read here: " + e);
        }
    }

    /**
     * The newest checkpoint under {@code root} whose every file verifies (rank 0 reads them all once, as a
     * single-writer restore did), or null when there is none; throws the last failure when checkpoints exist but
     * none verifies: starting over would silently lose the run.
     */
    static Path latest(Path root) throws IOException {
        List<Path> all;
        // opening the store deletes unfinished writes (only when no other store holds it)
        try (CheckpointStore store = new CheckpointStore(root, new Retention(1, 0))) {
            all = store.list();
        }
        CorruptCheckpointException last = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                CheckpointStore.verify(all.get(i));
                return all.get(i);
            } catch (CorruptCheckpointException e) {
                log.warn("skipping {}, falling back to an older checkpoint", e.getMessage());
                last = e;
            }
        }
        if (last != null) {
            throw last;
        }
        return null;
    }

    /**
     * A rollback (restoring a checkpoint older than the newest) moves the newer ones into
     * {@code abandoned/gen-<generation>/}, so that retention and {@code latest} never pick or delete the wrong ones.
     */
    private static void setAsideNewer(Trainer.Launch launch, long restoredStep) throws IOException {
        List<Path> moved = CheckpointStore.setAsideNewerThan(launch.checkpointDir(), restoredStep,
                "gen-" + launch.generation());
        if (!moved.isEmpty()) {
            log.warn("rolled back to step {}: moved {} newer checkpoint(s) aside to {}", restoredStep, moved.size(),
                    moved.get(0).getParent());
        }
    }

    /** The checkpoint's arrays whose names start with {@code prefix} ({@code param/}, {@code adam_m/}, …), unprefixed. */
    static Map<String, INDArray> prefixed(CheckpointContent c, String prefix) {
        Map<String, INDArray> m = new LinkedHashMap<>();
        c.arrays().forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                m.put(k.substring(prefix.length()), v);
            }
        });
        return m;
    }
}
