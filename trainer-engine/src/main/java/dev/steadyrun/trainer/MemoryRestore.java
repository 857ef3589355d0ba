package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A restore from a memory snapshot ({@code --restore memory:STEP}, docs/recovery.md): the ranks of the new generation
 * find what their nodes still hold of the snapshot (under every {@code rank-*} directory of the node's snapshot root,
 * the manifest's SHA-256 matching the pinned one), agree over the ring which rank sends each file, and broadcast the
 * files so that every rank assembles the whole format-2 checkpoint in a directory of its own. From there the
 * ordinary restore reads it, at any world size, verifying every file it reads against the manifest (a bad one exits
 * {@link dev.steadyrun.protocol.ExitCodes#CORRUPT_CHECKPOINT} on every rank). A file no rank holds (two neighbouring
 * nodes lost) exits {@link dev.steadyrun.protocol.ExitCodes#CHECKPOINT_UNAVAILABLE} on every rank: the orchestrator
 * then picks another restore point.
 */
final class MemoryRestore {

    private static final Logger log = LoggerFactory.getLogger(MemoryRestore.class);
    static final String PREFIX = "memory:";
    /** Where a rank assembles the snapshot it restores, under the node's snapshot root; deleted once restored. */
    static final String ASSEMBLY = ".restore-";

    private MemoryRestore() {
    }

    /** The step of a {@code --restore memory:STEP} argument, or -1 when it names something else. */
    static long step(String restore) {
        if (restore == null || !restore.startsWith(PREFIX)) {
            return -1;
        }
        try {
            long step = Long.parseLong(restore.substring(PREFIX.length()));
            if (step >= 0) {
                return step;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--restore " + restore + ": expected memory:STEP with STEP ≥ 0");
    }

    /**
     * Gathers snapshot {@code step} on every rank (a collective) and returns the directory where this rank assembled
     * it, a complete checkpoint.
     *
     * @param manifestSha256 the snapshot's manifest SHA-256 as its holders reported it, or null to accept any
     */
    static Path assemble(Path root, long step, String manifestSha256, Collectives ring) throws IOException {
        long t0 = System.nanoTime();
        int world = ring.worldSize();
        Map<String, Path> local = new HashMap<>();
        Path manifest = findLocal(root, step, manifestSha256, local);
        double[] has = new double[world];
        has[ring.rank()] = manifest == null ? 0 : 1;
        ring.allReduceSum(has);
        int source = -1;
        for (int r = world - 1; r >= 0; r--) {
            source = has[r] > 0 ? r : source;
        }
        if (source < 0) {
            throw new CheckpointUnavailableException(root, CheckpointPaths.dirName(step), "memory snapshot: no rank of"
                    + " this generation holds it (manifest SHA-256 " + manifestSha256 + ")");
        }
        String text = DataParallel.broadcastText(ring, ring.rank() == source
                ? Files.readString(manifest, StandardCharsets.UTF_8) : null, source);
        byte[] manifestBytes = text.getBytes(StandardCharsets.UTF_8);
        // per rank: several ranks may share a node's root
        Path dir = root.resolve(ASSEMBLY + "gen-" + ring.generation() + "-rank-" + ring.rank())
                .resolve(CheckpointPaths.dirName(step));
        deleteTree(dir.getParent());
        Files.createDirectories(dir);
        Files.write(dir.resolve(CheckpointPaths.MANIFEST), manifestBytes);
        List<String> names = new ArrayList<>();
        List<Long> sizes = new ArrayList<>();
        for (JsonNode e : JsonMapper.builder().build().readTree(manifestBytes).path("files")) {
            names.add(e.path("name").asString());
            sizes.add(e.path("bytes").asLong());
        }
        // which rank holds which file (the lowest sends it)
        double[] holds = new double[world * names.size()];
        for (int i = 0; i < names.size(); i++) {
            Path f = local.get(names.get(i));
            holds[ring.rank() * names.size() + i] = f != null && Files.size(f) == sizes.get(i) ? 1 : 0;
        }
        ring.allReduceSum(holds);
        long bytes = 0;
        for (int i = 0; i < names.size(); i++) {
            int sender = -1;
            for (int r = world - 1; r >= 0; r--) {
                sender = holds[r * names.size() + i] > 0 ? r : sender;
            }
            if (sender < 0) {
                throw new CheckpointUnavailableException(root, names.get(i), "memory snapshot step " + step
                        + ": no rank of this generation holds this file (the nodes of its writer and of the writer's"
                        + " ring successor were both lost)");
            }
            ByteBuffer buffer = ring.rank() == sender ? CheckpointStore.readPadded(local.get(names.get(i)), sizes.get(i))
                    : ByteBuffer.allocateDirect(Math.toIntExact((sizes.get(i) + 3) / 4 * 4));
            ring.broadcast(buffer, sender);
            try (FileChannel out = FileChannel.open(dir.resolve(names.get(i)), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = buffer.duplicate().clear().limit(Math.toIntExact(sizes.get(i)));
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
            bytes += sizes.get(i);
        }
        log.info("memory snapshot step {}: gathered {} files ({} bytes) from the ranks holding them in {} ms", step,
                names.size(), bytes, (System.nanoTime() - t0) / 1_000_000);
        return dir;
    }

    /**
     * The manifest of snapshot {@code step} on this node (with the pinned SHA-256 when given), and every file beside
     * it in {@code files}, by name; null when this node holds none.
     */
    private static Path findLocal(Path root, long step, String manifestSha256, Map<String, Path> files)
            throws IOException {
        Path found = null;
        for (Path rankDir : Snapshots.rankDirs(root)) {
            Path snapshot = rankDir.resolve(CheckpointPaths.dirName(step));
            Path manifest = snapshot.resolve(CheckpointPaths.MANIFEST);
            if (!Files.isRegularFile(manifest)) {
                continue;
            }
            String sha = sha256(Files.readAllBytes(manifest));
            if (manifestSha256 != null && !sha.equalsIgnoreCase(manifestSha256)) {
                log.warn("{}: manifest SHA-256 {}, not the snapshot asked for ({}): skipped", snapshot, sha,
                        manifestSha256);
                continue;
            }
            if (found != null && !sha.equals(sha256(Files.readAllBytes(found)))) {
                continue;   // another lineage's snapshot of the same step (no pin given): the first one found wins
            }
            found = found == null ? manifest : found;
            try (Stream<Path> entries = Files.list(snapshot)) {
                entries.filter(p -> !p.getFileName().toString().equals(CheckpointPaths.MANIFEST))
                        .forEach(p -> files.putIfAbsent(p.getFileName().toString(), p));
            }
        }
        return found;
    }

    /** Deletes this rank's assembled copy once the restore has read it. */
    static void release(Path assembled) {
        try {
            deleteTree(assembled.getParent());
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", assembled, e.toString());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
