package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.List;

/**
 * A small real dataset for demos and tests: the first Europarl documents, prepared into token shards once and
 * reused while the manifest's recipe matches and every shard's checksum verifies.
 */
public final class DemoData {

    public static final int DEFAULT_MAX_DOCUMENTS = 2000;
    /** Larger than the default so a 2,000-document demo still has about 100 validation documents. */
    public static final double VAL_FRACTION = 0.05;

    private DemoData() {
    }

    public static Path ensurePrepared(Path dir) {
        return ensurePrepared(dir, DEFAULT_MAX_DOCUMENTS);
    }

    /**
     * Prepares (or reuses) the first {@code maxDocuments} Europarl documents in {@code dir}; returns {@code dir}.
     * The ranks of a run on one machine start together on the same cache directory: the first prepares under an
     * exclusive file lock beside the directory (the preparation rewrites the directory's contents), the others wait
     * for it and then find the data verified.
     */
    public static synchronized Path ensurePrepared(Path dir, int maxDocuments) {
        try {
            Files.createDirectories(dir);
            Path lockFile = dir.resolveSibling(dir.getFileName() + ".lock");
            try (FileChannel lock = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock held = lock.lock()) {
                PrepareConfig config = config(dir, maxDocuments);
                if (!verified(dir, config.recipe())) {
                    new Prepare(config.withForce(true), Clock.systemUTC(), null).run();
                }
                return dir;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("preparing the Europarl demo data in " + dir, e);
        }
    }

    static PrepareConfig config(Path dir, int maxDocuments) {
        return PrepareConfig.defaults(List.of(Europarl.source(dir.resolve("source"))), dir)
                .withValFraction(VAL_FRACTION)
                .withMaxDocuments(maxDocuments);
    }

    private static boolean verified(Path dir, String recipe) {
        try {
            if (!Files.exists(dir.resolve(Manifest.FILE)) || !recipe.equals(Manifest.read(dir).recipe())) {
                return false;
            }
            for (String split : List.of("train", "val")) {
                TokenShards.open(dir, split).close();    // open() checks sizes and SHA-256 sums
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
