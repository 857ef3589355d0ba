package dev.steadyrun.trainer.checkpoint;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.CheckpointPin;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Atomic, checksummed checkpoints with retention, under one root directory (layout: {@link CheckpointPaths}).
 *
 * <p>Sharded (format 2, what the trainer writes): every rank's store writes the rank's shard files into the
 * generation's pending directory {@code .tmp-step-N-gen-G/} ({@link #writeShardsAsync}); once the ranks agreed that
 * all are written, rank 0's store writes the manifest naming every file's SHA-256, syncs, renames the directory to
 * {@code step-N} atomically and syncs the root ({@link #commitAsync}). A crash therefore leaves either a complete
 * checkpoint or a {@code .tmp-*} directory, which {@link #list()} ignores and the next owner's open deletes.
 * Single-writer checkpoints (format 1, {@link #write}) follow the same protocol in one directory of their own.
 * Writes run on one background thread in submission order, so the training loop only pays for copying its arrays.
 * {@link CheckpointReader} reads both formats as flat vectors.
 *
 * <p>The owner store (single writer, or rank 0: {@link #forRank}) holds a lock on {@code root/.lock} from open to
 * {@link #close()}, and deletes leftovers only when it got that lock: a second store on the same root (an {@code eval}
 * beside a live trainer) must not delete the trainer's write in progress. Ranks &gt; 0 neither lock nor delete.
 *
 * <p>Over 400 lines on purpose: the write protocol (temporary directory, syncs, manifest last, atomic rename, lock)
 * and the read side that relies on it (manifest, sizes, checksums, leftovers, set-aside) are one on-disk contract,
 * kept side by side so that a change to one is made against the other.
 */
public final class CheckpointStore implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8,18})");
    private static final String TMP_PREFIX = CheckpointPaths.TMP_PREFIX;
    private static final String LOCK_FILE = ".lock";
    /** Where a rollback moves the checkpoints newer than the one restored. */
    public static final String ABANDONED = "abandoned";
    private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
    private static final HexFormat HEX = HexFormat.of();

    private final Path root;
    private final Retention retention;
    private final ExecutorService writer;
    private final FileChannel lockChannel;
    private volatile boolean closed;

    /** The store of a single writer, or of rank 0 of a sharded one: it tidies up, commits and applies retention. */
    public CheckpointStore(Path root, Retention retention) {
        this(root, retention, true);
    }

    /**
     * Rank {@code rank}'s store on the run's shared checkpoint root: every rank writes its shards
     * ({@link #writeShardsAsync}); rank 0 alone takes the lock, deletes leftovers, commits ({@link #commitAsync}) and
     * applies retention.
     */
    public static CheckpointStore forRank(Path root, Retention retention, int rank) {
        return new CheckpointStore(root, retention, rank == 0);
    }

    private CheckpointStore(Path root, Retention retention, boolean owner) {
        if (root == null) {
            throw new IllegalArgumentException("root must not be null");
        }
        if (retention == null) {
            throw new IllegalArgumentException("retention must not be null");
        }
        this.root = root;
        this.retention = retention;
        FileChannel channel = null;
        try {
            Files.createDirectories(root);
            if (owner) {
                channel = FileChannel.open(root.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE);
                if (tryLock(channel) != null) {
                    deleteLeftovers(root);
                } else {
                    log.warn("another checkpoint store holds {}: leaving its unfinished writes alone", root);
                }
            }
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("cannot open checkpoint store " + root, e);
        }
        this.lockChannel = channel;
        this.writer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "checkpoint-writer");
            t.setDaemon(true);
            return t;
        });
    }

    /** The directory name of a step's checkpoint, e.g. {@code step-00000100} ({@link CheckpointPaths#dirName}). */
    public static String dirName(long step) {
        return CheckpointPaths.dirName(step);
    }

    /** Writes and waits; queued behind any pending {@link #writeAsync} so checkpoints land in order. */
    public WrittenCheckpoint write(CheckpointContent c) throws IOException {
        try {
            return submit(c).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing checkpoint step " + c.step());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException ce ? ce.getCause() : e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException("writing checkpoint step " + c.step() + " failed", cause);
        }
    }

    /**
     * Copies the arrays on the caller's thread, so training may change its own arrays as soon as this returns,
     * then writes on the store's background thread. The future fails with the write's IOException (wrapped in a
     * CompletionException when joined).
     */
    public CompletableFuture<WrittenCheckpoint> writeAsync(CheckpointContent c) {
        Map<String, INDArray> copies = new LinkedHashMap<>();
        c.arrays().forEach((name, array) -> copies.put(name, ArrayFormat.detachedCopy(array)));
        return submit(new CheckpointContent(c.step(), copies, c.stateJson()));
    }

    private CompletableFuture<WrittenCheckpoint> submit(CheckpointContent c) {
        return run(() -> writeNow(c));
    }

    /** A contiguous range of one flat vector ({@link CheckpointPaths#KINDS}) that a rank writes as one file. */
    public record ShardPart(String kind, int piece, long from, INDArray values) {
    }

    /**
     * A file a rank wrote into a pending checkpoint: its sums travel to rank 0 over the ring, which names them in
     * the manifest. {@code kind} is null for state.json.
     */
    public record ShardFile(String name, long bytes, String sha256, String kind, int rank, long from, long length) {
    }

    /**
     * A rank's shard write in progress: {@code copied} completes once its parts are copied (until then the caller
     * must not change the arrays they view), {@code written} once the copies are written and synced.
     */
    public record ShardWrite(CompletableFuture<Void> copied, CompletableFuture<List<ShardFile>> written) {
    }

    /**
     * Phase one of a sharded checkpoint: on the writer thread, copies this rank's parts (each by one bulk copy), then
     * writes and syncs one file per part, plus state.json when {@code stateJson} is given (rank 0), into the
     * generation's pending directory. The caller goes on at once (training reads the parameters while they are
     * copied) and waits for {@link ShardWrite#copied} before it changes them. Nothing is a checkpoint until
     * {@link #commitAsync}.
     */
    public ShardWrite writeShardsAsync(long step, long generation, int rank, List<ShardPart> parts, String stateJson) {
        CompletableFuture<Void> copied = new CompletableFuture<>();
        CompletableFuture<List<ShardFile>> written = run(() -> {
            List<ShardPart> copies = new ArrayList<>();
            try {
                for (ShardPart p : parts) {
                    copies.add(new ShardPart(p.kind(), p.piece(), p.from(), ArrayFormat.flatCopy(p.values())));
                }
            } finally {
                copied.complete(null);
            }
            return writeShards(step, generation, rank, copies, stateJson);
        });
        return new ShardWrite(copied, written);
    }

    private List<ShardFile> writeShards(long step, long generation, int rank, List<ShardPart> parts, String stateJson)
            throws IOException {
        long t0 = System.nanoTime();
        Path pending = root.resolve(CheckpointPaths.pendingDirName(step, generation));
        Files.createDirectories(pending);
        List<ShardFile> written = new ArrayList<>();
        for (ShardPart p : parts) {
            String name = CheckpointPaths.shardFile(p.kind(), rank, p.piece());
            MessageDigest digest = sha256();
            long bytes;
            try (FileChannel out = FileChannel.open(pending.resolve(name), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                bytes = ArrayFormat.write(p.values(), out, digest);
                out.force(true);
            } catch (IOException ex) {
                throw new IOException("writing " + name + " of checkpoint step " + step + ": " + ex.getMessage(), ex);
            }
            written.add(new ShardFile(name, bytes, HEX.formatHex(digest.digest()), p.kind(), rank, p.from(),
                    p.values().length()));
        }
        if (stateJson != null) {
            byte[] state = stateJson.getBytes(StandardCharsets.UTF_8);
            writeSynced(pending.resolve(Manifest.STATE_FILE), state);
            written.add(new ShardFile(Manifest.STATE_FILE, state.length, HEX.formatHex(sha256().digest(state)), null,
                    rank, 0, 0));
        }
        syncDirectory(pending);
        long bytes = written.stream().mapToLong(ShardFile::bytes).sum();
        // the figures bench/checkpoint.sh compares with the disk's sequential write rate
        log.info("checkpoint step {}: rank {} wrote and synced {} bytes in {} ms", step, rank, bytes,
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e6));
        return written;
    }

    /**
     * Phase two, on rank 0 once every rank's shards are written: the manifest naming every file's size and SHA-256
     * (as their writers hashed them), the world size and the flat layout, then the atomic rename that makes the
     * checkpoint exist. Queued behind this rank's own shard write.
     *
     * @param tensors the flat vectors' layout: tensor names and shapes, in order
     */
    public CompletableFuture<WrittenCheckpoint> commitAsync(long step, long generation, int worldSize,
                                                            Map<String, long[]> tensors, List<ShardFile> files) {
        return commitAsync(step, generation, worldSize, tensors, TensorSplit.NONE, files);
    }

    /**
     * {@link #commitAsync(long, long, int, Map, List)} under tensor parallelism: {@code tensors} are one member's
     * slices, and {@code split} says how the members' slices join (see {@link Manifest}).
     */
    public CompletableFuture<WrittenCheckpoint> commitAsync(long step, long generation, int worldSize,
                                                            Map<String, long[]> tensors, TensorSplit split,
                                                            List<ShardFile> files) {
        return run(() -> commit(step, generation, worldSize, tensors, split, files, null));
    }

    /**
     * How tensor parallelism cut the flat layout: {@code tensorParallel} members, and for each split tensor the axis
     * along which its slices join (tensors not named are held whole by every member).
     */
    public record TensorSplit(int tensorParallel, Map<String, Integer> axes) {
        public static final TensorSplit NONE = new TensorSplit(1, Map.of());

        public TensorSplit {
            if (tensorParallel < 1 || (tensorParallel == 1 && !axes.isEmpty())) {
                throw new IllegalArgumentException("tensor split " + tensorParallel + " " + axes);
            }
            axes = Map.copyOf(axes);
        }
    }

    /**
     * A memory snapshot's second phase, on every rank's own store (its node's snapshot root): writes the replica of
     * the predecessor's files that came over the ring (each verified against the SHA-256 its writer reported), then
     * the manifest naming every rank's files, and renames the snapshot into place. Unlike a checkpoint, a snapshot
     * directory holds only the files of {@code heldRanks}; the others live on other nodes, and a restore gathers
     * them over the ring ({@code MemoryRestore}).
     *
     * @param replica the predecessor's files and their bytes (each buffer at least the file's size, read from 0)
     */
    public CompletableFuture<WrittenCheckpoint> commitSnapshotAsync(long step, long generation, int worldSize,
                                                                    Map<String, long[]> tensors,
                                                                    List<ShardFile> files,
                                                                    Map<ShardFile, ByteBuffer> replica,
                                                                    Set<Integer> heldRanks) {
        return run(() -> {
            Path pending = root.resolve(CheckpointPaths.pendingDirName(step, generation));
            try {
                for (Map.Entry<ShardFile, ByteBuffer> r : replica.entrySet()) {
                    ShardFile f = r.getKey();
                    ByteBuffer bytes = r.getValue().duplicate().clear().limit(Math.toIntExact(f.bytes()));
                    String sum = HEX.formatHex(sha256(bytes.duplicate()));
                    if (!sum.equalsIgnoreCase(f.sha256())) {
                        throw new CorruptCheckpointException(pending, f.name(), "the replica from rank " + f.rank()
                                + " has SHA-256 " + sum + ", its writer reported " + f.sha256());
                    }
                    try (FileChannel out = FileChannel.open(pending.resolve(f.name()), StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE)) {
                        while (bytes.hasRemaining()) {
                            out.write(bytes);
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                deleteQuietly(pending);
                throw e;
            }
            return commit(step, generation, worldSize, tensors, TensorSplit.NONE, files, heldRanks);
        });
    }

    /**
     * A file of this rank's pending shards, read whole into a direct buffer padded to a multiple of four bytes (the
     * ring moves floats): what a rank sends its successor as the replica of its snapshot.
     */
    public ByteBuffer readPending(long step, long generation, ShardFile f) throws IOException {
        return readPadded(root.resolve(CheckpointPaths.pendingDirName(step, generation)).resolve(f.name()), f.bytes());
    }

    /** A file read whole into a direct buffer of {@code bytes} rounded up to a multiple of four. */
    public static ByteBuffer readPadded(Path file, long bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.toIntExact((bytes + 3) / 4 * 4));
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            buffer.limit(Math.toIntExact(bytes));
            while (buffer.hasRemaining()) {
                if (in.read(buffer) < 0) {
                    throw new EOFException(file + " ends before " + bytes + " bytes");
                }
            }
        }
        return buffer.clear();
    }

    private static byte[] sha256(ByteBuffer bytes) {
        MessageDigest digest = sha256();
        digest.update(bytes);
        return digest.digest();
    }

    /** @param heldRanks the ranks whose files must be here (a snapshot's), or null for every rank (a checkpoint) */
    private WrittenCheckpoint commit(long step, long generation, int worldSize, Map<String, long[]> tensors,
                                     TensorSplit split, List<ShardFile> files, Set<Integer> heldRanks)
            throws IOException {
        Path pending = root.resolve(CheckpointPaths.pendingDirName(step, generation));
        List<Manifest.Entry> entries = new ArrayList<>();
        for (ShardFile f : files) {
            // every rank's file must be here: a store that is not one shared directory would commit a
            // checkpoint nobody can restore
            Path file = pending.resolve(f.name());
            boolean here = heldRanks == null || heldRanks.contains(f.rank());   // a snapshot's others: other nodes
            if (here && (!Files.isRegularFile(file) || Files.size(file) != f.bytes())) {
                deleteQuietly(pending);
                throw new IOException("rank " + f.rank() + "'s " + f.name() + " of checkpoint step " + step
                        + " is not in " + pending + " as rank 0 sees it: every rank must write to one shared"
                        + " --checkpoint-dir");
            }
            entries.add(f.kind() == null
                    ? new Manifest.Entry(f.name(), f.bytes(), f.sha256(), null, null, null)
                    : new Manifest.Entry(f.name(), f.bytes(), f.sha256(), f.kind(), "FLOAT",
                    new long[]{f.length()}, f.rank(), f.from()));
        }
        List<Manifest.Tensor> layout = new ArrayList<>();
        tensors.forEach((name, shape) -> layout.add(new Manifest.Tensor(name, shape, split.axes().get(name))));
        byte[] manifest = JSON.writeValueAsBytes(new Manifest(Manifest.FORMAT, step, entries, worldSize, layout,
                split.tensorParallel() == 1 ? null : split.tensorParallel()));
        try {
            writeSynced(pending.resolve(Manifest.FILE), manifest);
            syncDirectory(pending);
            Path target = publish(pending, dirName(step));
            long total = manifest.length + entries.stream().mapToLong(Manifest.Entry::bytes).sum();
            return new WrittenCheckpoint(target, step, HEX.formatHex(sha256().digest(manifest)), total,
                    applyRetention());
        } catch (IOException | RuntimeException e) {
            deleteQuietly(pending);
            throw e;
        }
    }

    /** Deletes a pending checkpoint that will never be committed (a rank failed to write its shards). */
    public CompletableFuture<WrittenCheckpoint> discardAsync(long step, long generation) {
        return run(() -> {
            deleteQuietly(root.resolve(CheckpointPaths.pendingDirName(step, generation)));
            return null;
        });
    }

    private interface Write<T> {
        T run() throws IOException;
    }

    private <T> CompletableFuture<T> run(Write<T> write) {
        if (closed) {
            throw new IllegalStateException("checkpoint store " + root + " is closed");
        }
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return write.run();
                } catch (IOException e) {
                    throw new CompletionException(e);
                }
            }, writer);
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("checkpoint store " + root + " is closed", e);
        }
    }

    /**
     * Renames a complete, synced directory to {@code root/name} atomically and syncs the root. A run resumed from an
     * older checkpoint writes the same step again: the new one replaces the old.
     */
    private Path publish(Path tmp, String name) throws IOException {
        Path target = root.resolve(name);
        Path replaced = null;
        if (Files.exists(target)) {
            replaced = root.resolve(TMP_PREFIX + name + "-replaced-" + UUID.randomUUID());
            Files.move(target, replaced, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (replaced != null) {
                Files.move(replaced, target, StandardCopyOption.ATOMIC_MOVE);
            }
            throw e;
        }
        syncDirectory(root);
        if (replaced != null) {
            deleteTree(replaced);
        }
        return target;
    }

    /** Runs on the writer thread only. */
    private WrittenCheckpoint writeNow(CheckpointContent c) throws IOException {
        String name = dirName(c.step());
        Path tmp = root.resolve(TMP_PREFIX + name + "-" + UUID.randomUUID());
        Path target = root.resolve(name);
        String manifestSha;
        long total;
        try {
            Files.createDirectory(tmp);
            List<Manifest.Entry> entries = new ArrayList<>();
            Set<String> usedNames = new HashSet<>();
            for (Map.Entry<String, INDArray> e : c.arrays().entrySet()) {
                String file = fileName(e.getKey(), usedNames);
                INDArray array = compact(e.getValue());
                MessageDigest digest = sha256();
                long bytes;
                try (FileChannel out = FileChannel.open(tmp.resolve(file), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE)) {
                    bytes = ArrayFormat.write(array, out, digest);
                    out.force(true);
                } catch (IOException ex) {
                    throw new IOException("writing array " + e.getKey() + " of checkpoint step " + c.step()
                            + ": " + ex.getMessage(), ex);
                }
                entries.add(new Manifest.Entry(file, bytes, HEX.formatHex(digest.digest()), e.getKey(),
                        array.dataType().name(), array.shape()));
            }
            byte[] state = c.stateJson().getBytes(StandardCharsets.UTF_8);
            writeSynced(tmp.resolve(Manifest.STATE_FILE), state);
            entries.add(new Manifest.Entry(Manifest.STATE_FILE, state.length,
                    HEX.formatHex(sha256().digest(state)), null, null, null));
            byte[] manifest = JSON.writeValueAsBytes(new Manifest(Manifest.FORMAT_SINGLE, c.step(), entries));
            writeSynced(tmp.resolve(Manifest.FILE), manifest);
            syncDirectory(tmp);
            publish(tmp, name);
            manifestSha = HEX.formatHex(sha256().digest(manifest));
            total = manifest.length + entries.stream().mapToLong(Manifest.Entry::bytes).sum();
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        return new WrittenCheckpoint(target, c.step(), manifestSha, total, applyRetention());
    }

    /** Complete checkpoints (a manifest is present), oldest first. Does not verify checksums: see {@link #load}. */
    public List<Path> list() {
        try {
            return completeCheckpoints(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + root, e);
        }
    }

    /** Waits for pending writes, then stops the writer thread. Later writes are refused. */
    @Override
    public void close() {
        closed = true;
        writer.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (writer.awaitTermination(1, TimeUnit.MINUTES)) {
                    break;
                }
                log.info("still waiting for checkpoint writes to finish in {}", root);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        closeQuietly(lockChannel); // releases the lock
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            log.warn("cannot close {}: {}", channel, e.toString());
        }
    }

    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null; // held by another store in this JVM
        }
    }

    /**
     * Loads a checkpoint, verifying that the manifest exists, every file it lists is present with the right
     * size and SHA-256 (hashed while reading, each file read once), the array headers match it, and no
     * unlisted file lies beside them.
     *
     * @throws CorruptCheckpointException naming the checkpoint and the bad file
     */
    public static CheckpointContent load(Path dir) throws IOException {
        return load(dir, null);
    }

    /**
     * {@link #load(Path)}, refusing the checkpoint unless the SHA-256 of its manifest (hashed over the very bytes
     * parsed) is {@code manifestSha256}, the sum its writer reported to the orchestrator; null skips that check.
     * The manifest holds the sums of every other file, so a checkpoint planted or swapped in the store fails here.
     *
     * @throws CheckpointUnavailableException when the manifest or a file it lists is missing
     * @throws CorruptCheckpointException     naming the checkpoint and the bad file, for any other failed check
     */
    public static CheckpointContent load(Path dir, String manifestSha256) throws IOException {
        ManifestRead read = readManifest(dir, manifestSha256);
        if (read.manifest().format() == Manifest.FORMAT) {
            return new CheckpointReader(dir, read).content();   // sharded: assembled from the ranks' ranges
        }
        Manifest manifest = read.manifest();
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        String state = null;
        for (Manifest.Entry e : manifest.files()) {
            Path file = presentWithSize(dir, e);
            MessageDigest digest = sha256();
            if (e.isArray()) {
                INDArray array;
                try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                    array = ArrayFormat.read(in, dir, e, digest);
                } catch (EOFException ex) {
                    throw new CorruptCheckpointException(dir, e.name(), "ends early");
                }
                checkDigest(dir, e, digest);
                if (arrays.put(e.array(), array) != null) {
                    throw new CorruptCheckpointException(dir, Manifest.FILE, "array " + e.array() + " listed twice");
                }
            } else {
                byte[] bytes = Files.readAllBytes(file);
                digest.update(bytes);
                checkDigest(dir, e, digest);
                state = new String(bytes, StandardCharsets.UTF_8);
            }
        }
        if (state == null) {
            throw new CorruptCheckpointException(dir, Manifest.STATE_FILE, "not listed in the manifest");
        }
        return new CheckpointContent(manifest.step(), arrays, state);
    }

    /**
     * The checks of {@link #load} short of parsing the arrays: manifest, presence, sizes and SHA-256 (each file
     * streamed through the hash), no unlisted files. Cheap enough to pick a checkpoint before loading it.
     */
    public static void verify(Path dir) throws IOException {
        Manifest manifest = readManifest(dir, null).manifest();
        for (Manifest.Entry e : manifest.files()) {
            Path file = presentWithSize(dir, e);
            MessageDigest digest = sha256();
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                }
            }
            checkDigest(dir, e, digest);
        }
    }

    /** SHA-256 of the checkpoint's manifest.json, hex; the manifest holds the sums of every other file. */
    public static String manifestSha256(Path dir) {
        try {
            return HEX.formatHex(sha256().digest(Files.readAllBytes(dir.resolve(Manifest.FILE))));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(Manifest.FILE), e);
        }
    }

    /**
     * The newest checkpoint under {@code root} that verifies, walking newest to oldest and logging why each newer
     * one was skipped; empty when there is none (or no root).
     */
    public static Optional<Path> latestValid(Path root) {
        List<Path> all;
        try {
            all = completeCheckpoints(root);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + root, e);
        }
        for (int i = all.size() - 1; i >= 0; i--) {
            Path dir = all.get(i);
            try {
                verify(dir);
                return Optional.of(dir);
            } catch (IOException e) {
                log.warn("skipping checkpoint {}: {}", dir.getFileName(), e.getMessage());
            }
        }
        return Optional.empty();
    }

    /**
     * A rollback: moves every step directory of {@code root} newer than {@code step} (complete or not) into
     * {@code root/abandoned/<label>/}, where neither {@link #list}, {@link #latestValid} nor retention look. A name
     * already taken there (the same generation rolled back twice) gets a unique suffix.
     *
     * @return the new locations, oldest step first
     */
    public static List<Path> setAsideNewerThan(Path root, long step, String label) throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<Path> newer;
        try (Stream<Path> entries = Files.list(root)) {
            newer = entries.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> stepOf(p) > step)
                    .sorted(Comparator.comparingLong(CheckpointStore::stepOf))
                    .toList();
        }
        if (newer.isEmpty()) {
            return List.of();
        }
        Path target = root.resolve(ABANDONED).resolve(label);
        Files.createDirectories(target);
        List<Path> moved = new ArrayList<>();
        for (Path p : newer) {
            Path to = target.resolve(p.getFileName());
            if (Files.exists(to)) {
                to = target.resolve(p.getFileName() + "-" + UUID.randomUUID());
            }
            Files.move(p, to, StandardCopyOption.ATOMIC_MOVE);
            moved.add(to);
        }
        syncDirectory(target);
        syncDirectory(root);
        return moved;
    }

    /** A manifest as parsed, and the SHA-256 of the very bytes parsed. */
    record ManifestRead(Manifest manifest, String sha256) {
    }

    static ManifestRead readManifest(Path dir, String expectedSha256) throws IOException {
        Path file = dir.resolve(Manifest.FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointUnavailableException(dir, Manifest.FILE,
                    "missing (the write never completed, or the store is not visible here)");
        }
        byte[] bytes = Files.readAllBytes(file);
        String actual = HEX.formatHex(sha256().digest(bytes));
        if (expectedSha256 != null) {
            if (!actual.equalsIgnoreCase(expectedSha256)) {
                throw new CorruptCheckpointException(dir, Manifest.FILE, "SHA-256 " + actual
                        + ", its writer reported " + expectedSha256);
            }
        }
        Manifest m;
        try {
            m = JSON.readValue(bytes, Manifest.class);
        } catch (JacksonException e) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "unreadable: " + e.getOriginalMessage());
        }
        if (m == null || (m.format() != Manifest.FORMAT && m.format() != Manifest.FORMAT_SINGLE)) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "format " + (m == null ? "missing" : m.format())
                    + ", this build reads formats " + Manifest.FORMAT_SINGLE + " and " + Manifest.FORMAT);
        }
        if (m.files() == null) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "no file list");
        }
        Matcher named = STEP_DIR.matcher(String.valueOf(dir.getFileName()));
        if (named.matches() && Long.parseLong(named.group(1)) != m.step()) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "says step " + m.step());
        }
        Set<String> listed = new HashSet<>();
        listed.add(Manifest.FILE);
        for (Manifest.Entry e : m.files()) {
            String name = e == null ? null : e.name();
            if (name == null || name.isEmpty() || name.contains("/") || name.contains("\\") || name.startsWith(".")
                    || !listed.add(name) || e.bytes() < 0 || e.sha256() == null
                    || (!e.isArray() && !Manifest.STATE_FILE.equals(name))) {
                throw new CorruptCheckpointException(dir, Manifest.FILE, "bad or duplicate entry " + name);
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            Optional<String> extra = files.map(p -> p.getFileName().toString())
                    .filter(n -> !listed.contains(n)).sorted().findFirst();
            if (extra.isPresent()) {
                throw new CorruptCheckpointException(dir, extra.get(), "not listed in the manifest");
            }
        }
        return new ManifestRead(m, actual);
    }

    static Path presentWithSize(Path dir, Manifest.Entry e) throws IOException {
        Path file = dir.resolve(e.name());
        if (!Files.isRegularFile(file)) {
            throw new CheckpointUnavailableException(dir, e.name(), "missing");
        }
        long size = Files.size(file);
        if (size != e.bytes()) {
            throw new CorruptCheckpointException(dir, e.name(), size + " bytes, the manifest says " + e.bytes());
        }
        return file;
    }

    static void checkDigest(Path dir, Manifest.Entry e, MessageDigest digest)
            throws CorruptCheckpointException {
        String actual = HEX.formatHex(digest.digest());
        if (!actual.equalsIgnoreCase(e.sha256())) {
            throw new CorruptCheckpointException(dir, e.name(), "SHA-256 " + actual + ", the manifest says "
                    + e.sha256());
        }
    }

    /**
     * Deletes what retention does not keep, except the steps pinned in {@link CheckpointPin#FILE} (a restart's chosen
     * restore point); returns the steps deleted (the orchestrator is told of them).
     */
    private List<Long> applyRetention() {
        List<Long> removed = new ArrayList<>();
        try {
            Set<Long> pinned = CheckpointPin.read(root); // read before every pass: the agent adds pins at any time
            List<Path> all = completeCheckpoints(root);
            for (int i = 0; i < all.size(); i++) {
                Path dir = all.get(i);
                if (!retention.keeps(stepOf(dir), all.size() - 1 - i) && !pinned.contains(stepOf(dir))) {
                    // Renamed first so a half-deleted checkpoint is never mistaken for a complete one.
                    Path trash = root.resolve(TMP_PREFIX + dir.getFileName() + "-deleted-" + UUID.randomUUID());
                    Files.move(dir, trash, StandardCopyOption.ATOMIC_MOVE);
                    removed.add(stepOf(dir));
                    deleteTree(trash);
                }
            }
        } catch (IOException e) {
            // The new checkpoint is safely written; a failed clean-up is retried after the next write.
            log.warn("checkpoint retention in {} failed: {}", root, e.toString());
        }
        return removed;
    }

    private static List<Path> completeCheckpoints(Path root) throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(Manifest.FILE)))
                    .sorted(Comparator.comparingLong(CheckpointStore::stepOf))
                    .toList();
        }
    }

    private static long stepOf(Path dir) {
        Matcher m = STEP_DIR.matcher(dir.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a checkpoint directory: " + dir);
        }
        return Long.parseLong(m.group(1));
    }

    /** A file name made of the array name's safe characters, unique within the checkpoint. */
    private static String fileName(String arrayName, Set<String> used) {
        String base = arrayName.replaceAll("[^A-Za-z0-9._-]", "_");
        if (base.startsWith(".")) {
            base = "_" + base.substring(1);
        }
        String name = base + ArrayFormat.SUFFIX;
        for (int i = 2; !used.add(name); i++) {
            name = base + "-" + i + ArrayFormat.SUFFIX;
        }
        return name;
    }

    /** Arrays written in place must be dense, row-major and start at their buffer's beginning. */
    private static INDArray compact(INDArray a) {
        boolean dense = a.ordering() == 'c' && !a.isView() && a.offset() == 0 && a.data().length() == a.length();
        return dense ? a : ArrayFormat.detachedCopy(a);
    }

    private static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            out.force(true);
        }
    }

    /** Makes a directory's entries (new files, renames) durable; Linux allows fsync on a directory. */
    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    private static void deleteLeftovers(Path root) throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            for (Path p : entries.filter(p -> p.getFileName().toString().startsWith(TMP_PREFIX)).toList()) {
                log.info("deleting unfinished checkpoint work {}", p);
                deleteTree(p);
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            if (Files.exists(dir)) {
                deleteTree(dir);
            }
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", dir, e.toString());
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
