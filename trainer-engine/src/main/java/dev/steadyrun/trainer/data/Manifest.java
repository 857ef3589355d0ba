package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code manifest.json} of a prepared dataset: the token format and, per split, the shard files with their token
 * counts and SHA-256 sums. {@code recipe} is a one-line description of the prepare settings, used to tell whether
 * an existing dataset can be reused.
 */
public record Manifest(int version, String tokenizer, String dtype, int eotToken, int vocabSize, String recipe,
                       Map<String, Split> splits) {

    public static final String FILE = "manifest.json";
    public static final int VERSION = 1;
    /** Token ids as unsigned 16-bit little-endian integers: GPT-2 ids are below 50,257 &lt; 65,536. */
    public static final String DTYPE = "uint16le";

    public record Split(long tokens, long documents, List<Shard> shards) {
    }

    public record Shard(String file, long tokens, String sha256) {
    }

    static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    public static Manifest read(Path datasetDir) throws IOException {
        Path file = datasetDir.resolve(FILE);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no dataset manifest (run `prepare` first)");
        }
        Manifest m;
        try {
            m = JSON.readValue(text, Manifest.class);
        } catch (JacksonException e) {
            throw new CorruptShardException(file + ": unreadable manifest: " + e.getOriginalMessage());
        }
        if (m.version() != VERSION || !DTYPE.equals(m.dtype()) || m.splits() == null) {
            throw new CorruptShardException(file + ": unsupported manifest (version " + m.version() + ", dtype "
                    + m.dtype() + "); expected version " + VERSION + " and " + DTYPE);
        }
        return m;
    }

    /** Writes atomically (temporary file, then rename), so a reader never sees half a manifest. */
    void write(Path datasetDir) throws IOException {
        Path tmp = datasetDir.resolve(FILE + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(this), StandardCharsets.UTF_8);
        Files.move(tmp, datasetDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
