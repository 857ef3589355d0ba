package dev.steadyrun.sdk;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.protocol.CheckpointPin;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The SDK's checkpoint format: a directory {@code step-NNNNNNNN} holding one file per named ND4J array
 * ({@code array-<i>.bin}, ND4J's binary format), {@code state.json} (the session's and the program's own state) and
 * {@code manifest.json}, which names every file with its SHA-256 and maps array names to files. Written into a
 * {@code .tmp-} directory, each file forced to disk, the manifest last, then renamed into place: a crash leaves the
 * whole checkpoint or a leftover that the next start deletes. A restore checks the manifest against the SHA-256 the
 * agent passed, then every file against the manifest, and reads only the verified bytes.
 */
public final class CheckpointFiles {

    static final String MANIFEST = "manifest.json";
    static final String STATE = "state.json";
    private static final int FORMAT = 1;
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8,})");
    private static final String TMP = ".tmp-";
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    /** A checksum does not match: the checkpoint's files are there and wrong (exit 3). */
    public static final class CorruptException extends IOException {
        CorruptException(String message) {
            super(message);
        }
    }

    /** The checkpoint cannot be read here: a file is missing or unreadable (exit 7); it may be whole elsewhere. */
    public static final class UnavailableException extends IOException {
        UnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A checkpoint in place: its directory, its manifest's SHA-256, its size. */
    public record Written(long step, Path path, String manifestSha256, long bytes, List<Long> removedSteps) {
    }

    /** What a checkpoint holds. */
    public record Content(long step, Map<String, INDArray> arrays, String stateJson) {
    }

    record ManifestJson(int format, long step, Map<String, String> files, Map<String, String> arrays) {
    }

    private CheckpointFiles() {
    }

    /** The directory name of a step's checkpoint. */
    static String name(long step) {
        return String.format("step-%08d", step);
    }

    /** Writes a checkpoint of {@code step} under {@code dir} and then applies retention (keeps {@code keep}). */
    public static Written write(Path dir, long step, Map<String, INDArray> arrays, String stateJson, int keep)
            throws IOException {
        Path target = dir.resolve(name(step));
        if (Files.exists(target)) {
            throw new IOException("checkpoint " + target + " exists already");
        }
        Path tmp = dir.resolve(TMP + name(step) + "-" + UUID.randomUUID());
        Files.createDirectories(tmp);
        Map<String, String> files = new LinkedHashMap<>();
        Map<String, String> names = new LinkedHashMap<>();
        long bytes = 0;
        int i = 0;
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            String file = "array-" + i++ + ".bin";
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(buffer)) {
                Nd4j.write(e.getValue(), out);
            }
            files.put(file, writeForced(tmp.resolve(file), buffer.toByteArray()));
            names.put(e.getKey(), file);
            bytes += buffer.size();
        }
        byte[] state = stateJson.getBytes(StandardCharsets.UTF_8);
        files.put(STATE, writeForced(tmp.resolve(STATE), state));
        byte[] manifest = JSON.writeValueAsBytes(new ManifestJson(FORMAT, step, files, names));
        String manifestSha = writeForced(tmp.resolve(MANIFEST), manifest);
        bytes += state.length + manifest.length;
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        forceDirectory(dir);
        return new Written(step, target, manifestSha, bytes, retain(dir, keep));
    }

    /**
     * Reads and verifies a checkpoint directory.
     *
     * @param sha256 the SHA-256 its manifest must have, or null
     */
    public static Content load(Path path, String sha256) throws IOException {
        byte[] manifestBytes = read(path, MANIFEST);
        if (sha256 != null && !sha256(manifestBytes).equalsIgnoreCase(sha256)) {
            throw new CorruptException(path.resolve(MANIFEST) + ": SHA-256 " + sha256(manifestBytes)
                    + " is not the " + sha256 + " the agent expects");
        }
        ManifestJson manifest;
        try {
            manifest = JSON.readValue(manifestBytes, ManifestJson.class);
        } catch (JacksonException e) {
            throw new CorruptException(path.resolve(MANIFEST) + ": not a manifest: " + e.getOriginalMessage());
        }
        if (manifest.format() != FORMAT || manifest.files() == null || manifest.arrays() == null
                || !manifest.files().containsKey(STATE)) {
            throw new CorruptException(path.resolve(MANIFEST) + ": not a format " + FORMAT + " manifest");
        }
        Map<String, byte[]> verified = new LinkedHashMap<>();
        for (Map.Entry<String, String> f : manifest.files().entrySet()) {
            if (f.getKey().contains("/") || f.getKey().startsWith(".")) {
                throw new CorruptException(path.resolve(MANIFEST) + ": file name '" + f.getKey() + "'");
            }
            byte[] b = read(path, f.getKey());
            if (!sha256(b).equalsIgnoreCase(f.getValue())) {
                throw new CorruptException(path.resolve(f.getKey()) + ": SHA-256 " + sha256(b)
                        + " does not match the manifest's " + f.getValue());
            }
            verified.put(f.getKey(), b);
        }
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        for (Map.Entry<String, String> a : manifest.arrays().entrySet()) {
            byte[] b = verified.get(a.getValue());
            if (b == null) {
                throw new CorruptException(path.resolve(MANIFEST) + ": array " + a.getKey() + " names an unlisted file");
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
                arrays.put(a.getKey(), Nd4j.read(in));
            }
        }
        return new Content(manifest.step(), arrays, new String(verified.get(STATE), StandardCharsets.UTF_8));
    }

    /**
     * A rollback: moves the checkpoints newer than {@code restoredStep} to {@code abandoned/gen-<generation>/} so that
     * retention never counts or deletes them, and deletes leftovers of interrupted writes.
     */
    static void setAsideNewer(Path dir, long restoredStep, long generation) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (Path p : list(dir, true)) {
            if (p.getFileName().toString().startsWith(TMP)) {
                deleteTree(p);
            }
        }
        for (Path p : list(dir, false)) {
            if (step(p) > restoredStep) {
                Path aside = dir.resolve("abandoned").resolve("gen-" + generation);
                Files.createDirectories(aside);
                Path to = aside.resolve(p.getFileName());
                if (Files.exists(to)) { // the same generation set this step aside before (a start by hand)
                    to = aside.resolve(p.getFileName() + "-" + UUID.randomUUID());
                }
                Files.move(p, to, StandardCopyOption.ATOMIC_MOVE);
            }
        }
    }

    /** Deletes all but the newest {@code keep} checkpoints, never a pinned one; returns the deleted steps. */
    private static List<Long> retain(Path dir, int keep) throws IOException {
        List<Path> all = list(dir, false);
        Set<Long> pinned = CheckpointPin.read(dir);
        List<Long> removed = new ArrayList<>();
        for (int i = 0; i < all.size() - keep; i++) {
            long step = step(all.get(i));
            if (!pinned.contains(step)) {
                deleteTree(all.get(i));
                removed.add(step);
            }
        }
        return removed;
    }

    /** The step directories under {@code dir}, oldest first; with {@code tmp}, the leftovers instead. */
    private static List<Path> list(Path dir, boolean tmp) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> tmp ? p.getFileName().toString().startsWith(TMP)
                            : STEP_DIR.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p))
                    .sorted(Comparator.comparingLong(CheckpointFiles::step)).toList();
        }
    }

    private static long step(Path p) {
        Matcher m = STEP_DIR.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private static byte[] read(Path dir, String file) throws UnavailableException {
        try {
            return Files.readAllBytes(dir.resolve(file));
        } catch (NoSuchFileException e) {
            throw new UnavailableException(dir.resolve(file) + ": missing", e);
        } catch (IOException e) {
            throw new UnavailableException(dir.resolve(file) + ": cannot be read here: " + e, e);
        }
    }

    /** Writes and forces {@code bytes}; returns their SHA-256. */
    private static String writeForced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
        return sha256(bytes);
    }

    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // not every file system lets a directory be forced; the rename itself is atomic either way
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
