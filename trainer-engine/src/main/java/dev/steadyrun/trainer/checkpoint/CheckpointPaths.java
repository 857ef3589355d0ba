package dev.steadyrun.trainer.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The one place that knows how a checkpoint store is laid out on disk (tests and fault tools that corrupt or inspect
 * checkpoints ask here instead of spelling file names):
 * <pre>
 *   root/step-00000100/                     a committed checkpoint: manifest.json present
 *       manifest.json                       written last by rank 0: every file's size and SHA-256, the world size
 *       state.json                          the trainer's state (config, cursor, loss scaler…), written by rank 0
 *       param-r00001-p000.arr               rank 1's range of piece 0 of the flat parameters ({@link ArrayFormat})
 *       adam_m-r00001-p000.arr, adam_v-…    the same range of Adam's moments (ZeRO-1: rank 1 owns it)
 *   root/.tmp-step-00000100-gen-3/          generation 3's shards while they are written; never a checkpoint
 *   root/.tmp-…                             any other write, replacement or deletion in progress
 *   root/abandoned/gen-G/                   checkpoints set aside by a rollback
 * </pre>
 * Format 1 checkpoints (one writer, one file per tensor: {@code param_wte.arr}, {@code adam_m_wte.arr}…) are still
 * read.
 */
public final class CheckpointPaths {

    public static final String MANIFEST = "manifest.json";
    public static final String STATE = "state.json";
    static final String TMP_PREFIX = ".tmp-";
    /** The flat vectors a sharded checkpoint holds, in the order every rank writes them. */
    public static final List<String> KINDS = List.of("param", "adam_m", "adam_v");

    private CheckpointPaths() {
    }

    /** The directory name of a step's checkpoint, e.g. {@code step-00000100}. */
    public static String dirName(long step) {
        return String.format("step-%08d", step);
    }

    /**
     * Where every rank of a generation writes its shards of a step before rank 0 commits them; the same name on
     * every rank, and a new one per generation, so a crashed generation's shards never mix with the next one's.
     */
    static String pendingDirName(long step, long generation) {
        return TMP_PREFIX + dirName(step) + "-gen-" + generation;
    }

    /** Rank {@code rank}'s file of one kind ({@link #KINDS}) for piece {@code piece} of the flat vector. */
    public static String shardFile(String kind, int rank, int piece) {
        return String.format("%s-r%05d-p%03d%s", kind, rank, piece, ArrayFormat.SUFFIX);
    }

    /** The array files of a checkpoint directory (shards, or format 1's per-tensor files), by name. */
    public static List<Path> arrayFiles(Path checkpoint) {
        try (Stream<Path> files = Files.list(checkpoint)) {
            return files.filter(p -> p.getFileName().toString().endsWith(ArrayFormat.SUFFIX)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + checkpoint, e);
        }
    }
}
