package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.trainer.checkpoint.CheckpointContent;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.trainer.checkpoint.Retention;

/** Which checkpoint a launch resumes ({@code --restore}), read by rank 0 only. */
final class Resume {

    private static final Logger log = LoggerFactory.getLogger(Resume.class);

    private Resume() {
    }

    /** The launch's checkpoint, or null to start from scratch; checkpoints newer than it are set aside. */
    static CheckpointContent read(Trainer.Launch launch) throws IOException {
        CheckpointContent restored;
        try (CheckpointStore reader = new CheckpointStore(launch.checkpointDir(), new Retention(1, 0))) {
            restored = checkpoint(reader, launch.checkpointDir(), launch.restore(), launch.restoreSha256());
        }
        if (restored != null) {
            setAsideNewer(launch, restored.step());
            // the old generation's pin of its restore point has served: this lineage's retention applies
            CheckpointPin.clear(launch.checkpointDir());
        }
        return restored;
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

    /**
     * The checkpoint to resume: a named directory (must verify, and its manifest must have {@code sha256} when
     * given), or the newest that verifies, or none. A named one that cannot be read is unavailable, not corrupt.
     */
    static CheckpointContent checkpoint(CheckpointStore store, Path dir, String restore, String sha256)
            throws IOException {
        if (restore == null || restore.isBlank()) {
            return null;
        }
        if (!restore.equals("latest")) {
            Path named = Path.of(restore);
            try {
                return CheckpointStore.load(named, sha256);
            } catch (CorruptCheckpointException e) {
                throw e;
            } catch (IOException e) {
                throw new CheckpointUnavailableException(named, "its files", "cannot be read here: " + e);
            }
        }
        List<Path> all = new ArrayList<>(store.list());
        CorruptCheckpointException last = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                CheckpointContent c = CheckpointStore.load(all.get(i));
                log.info("restoring {}", all.get(i));
                return c;
            } catch (CorruptCheckpointException e) {
                log.warn("skipping {}, falling back to an older checkpoint", e.getMessage());
                last = e;
            }
        }
        if (last != null) {
            throw last;   // checkpoints exist but none verifies: starting over would silently lose the run
        }
        log.info("no checkpoint in {}: starting from scratch", dir);
        return null;
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
