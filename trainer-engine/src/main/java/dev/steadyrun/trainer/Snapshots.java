package dev.steadyrun.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.PeerCheck;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.Retention;

/**
 * Memory snapshots replicated to the ring neighbour (docs/recovery.md): every {@code snapshotInterval} steps each rank
 * writes its shard (the same files as its part of a format-2 checkpoint, rank 0's state.json included) into its
 * node's snapshot root, a tmpfs directory such as {@code /dev/shm/steadyrun/<run>} that outlives the trainer's JVM
 * but not the node, under {@code rank-R/}. The copy runs on the store's thread while the next step computes (the loop
 * waits for it only before its optimizer update, as for a checkpoint). At the next step's end, in the slot between
 * steps, the ranks agree the writes succeeded, exchange the files' sums, and each sends its files to its successor
 * over the ring ({@link dev.steadyrun.collectives.Collectives#shift}); each rank then writes the replica, verified
 * against its writer's SHA-256, and a manifest naming every rank's files, renames the snapshot into place and reports
 * it (kind {@code memory}). Rank r's shard thus lives on rank r's node and rank r+1's: any one node may be lost.
 *
 * <p>Only the newest {@link #KEEP} snapshots are kept. Each rank's reports name which ranks' shards its node holds;
 * the orchestrator decides from them whether a snapshot survives a failure, and {@link MemoryRestore} gathers it.
 */
final class Snapshots implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Snapshots.class);
    /** Snapshots kept per rank: the newest, and one more in case the newest is being replaced when a node fails. */
    static final int KEEP = 2;
    static final String RANK_DIR = "rank-";

    private final CheckpointStore store;
    private final DataParallel dp;
    private final Consumer<TrainerLine> sink;
    private final long generation;
    /** Phase one in progress: this rank's shard being copied and written; null when none. */
    private Pending pending;
    /** The newest snapshot until the loop waited for its copy. */
    private Pending copying;

    private record Pending(long step, CheckpointStore.ShardWrite write, long tokensSeen, double lossScale,
                           double loss) {
    }

    /** The loop's time in the slots that asked whether the pending snapshot is written (logged with it). */
    private long askedNanos;

    private Snapshots(Path root, DataParallel dp, Consumer<TrainerLine> sink, long generation) {
        this.store = new CheckpointStore(root.resolve(RANK_DIR + dp.rank()), new Retention(KEEP, 0));
        this.dp = dp;
        this.sink = sink;
        this.generation = generation;
    }

    /** This rank's snapshots under the node's snapshot root, or null when the launch names none (snapshots off). */
    static Snapshots open(Path root, long interval, DataParallel dp, Consumer<TrainerLine> sink, long generation) {
        if (root == null || interval == 0) {
            return null;
        }
        return new Snapshots(root, dp, sink, generation);
    }

    /**
     * Phase one at the end of a step: hands this rank's shard (and on rank 0 the state) to the store's thread, which
     * copies and writes it while the next step runs.
     */
    void take(TrainState s, double lossScale, double loss) {
        CheckpointStore.ShardWrite write = store.writeShardsAsync(s.step(), generation, dp.rank(), dp.shardParts(),
                dp.rank() == 0 ? s.toJson() : null);
        pending = new Pending(s.step(), write, s.tokensSeen(), lossScale, loss);
        copying = pending;
    }

    /** Before an optimizer update: the snapshot's copy must be done (it usually is by then); logs the wait. */
    void waitForCopy() {
        if (copying == null) {
            return;
        }
        long t0 = System.nanoTime();
        copying.write().copied().join();
        double waited = (System.nanoTime() - t0) / 1e6;
        log.info("snapshot step {}: shard handed over, training stalled {} ms for the copy", copying.step(),
                String.format(Locale.ROOT, "%.3f", waited));
        copying = null;
    }

    /** Whether a snapshot is still being written or replicated: the next one is skipped until it is done. */
    boolean busy() {
        return pending != null;
    }

    /**
     * Phase two, in the slots between steps, on every rank alike (collectives): the ranks agree whether every shard
     * is written (a small all-reduce each step until they are; {@code wait}: this rank waits for its own first, as at
     * the end of the run), then exchange the files' sums, shift each rank's files to its successor, and each rank
     * commits its snapshot (own files and replica) on the store's thread, then reports it.
     */
    void replicate(boolean wait) {
        if (pending == null) {
            return;
        }
        Pending p = pending;
        long t0 = System.nanoTime();
        waitForCopy();
        CompletableFuture<List<ShardFile>> written = p.write().written();
        if (wait) {
            written.handle((files, error) -> null).join();
        }
        boolean failed = written.isCompletedExceptionally();
        int[] counts = dp.countShards(written.isDone() && !failed, failed);
        if (counts[1] > 0) {
            pending = null;
            askedNanos = 0;
            log.error("snapshot step {} abandoned: {} rank(s) could not write their shards", p.step(), counts[1],
                    failed ? written.handle((files, error) -> error).join() : null);
            store.discardAsync(p.step(), generation);
            return;
        }
        if (counts[0] < dp.worldSize()) {
            askedNanos += System.nanoTime() - t0;
            return;   // not every rank's shard is written yet: the next slot asks again
        }
        pending = null;
        List<ShardFile> all = dp.exchangeShardFiles(written.join());
        int world = dp.worldSize();
        int predecessor = PeerCheck.predecessor(dp.rank(), world);
        List<ShardFile> own = ofRank(all, dp.rank());
        List<ShardFile> theirs = world == 1 ? List.of() : ofRank(all, predecessor);
        Map<ShardFile, ByteBuffer> replica = new LinkedHashMap<>();
        int rounds = 0;
        for (int r = 0; r < world; r++) {
            rounds = Math.max(rounds, ofRank(all, r).size());
        }
        // one file per round, so that no buffer exceeds a file (a piece: at most 2^28 floats)
        for (int i = 0; i < rounds && world > 1; i++) {
            ByteBuffer out = i < own.size() ? read(p.step(), own.get(i)) : ByteBuffer.allocateDirect(0);
            ByteBuffer in = ByteBuffer.allocateDirect(i < theirs.size() ? padded(theirs.get(i).bytes()) : 0);
            dp.ring().shift(out, in);
            if (i < theirs.size()) {
                replica.put(theirs.get(i), in);
            }
        }
        double loopMillis = (System.nanoTime() - t0 + askedNanos) / 1e6;
        askedNanos = 0;
        Set<Integer> held = world == 1 ? Set.of(dp.rank()) : Set.of(dp.rank(), predecessor);
        String ownDigest = digest(own);
        String replicaDigest = world == 1 ? null : digest(theirs);
        store.commitSnapshotAsync(p.step(), generation, world, dp.layout(), all, replica, held)
                .whenComplete((w, error) -> {
                    if (error != null) {
                        log.error("snapshot step {} failed on this rank", p.step(), error);
                        return;
                    }
                    log.info("snapshot step {}: replicated, the loop spent {} ms on it between steps", p.step(),
                            String.format(Locale.ROOT, "%.3f", loopMillis));
                    sink.accept(CheckpointWritten.memory(w.step(), p.tokensSeen(), w.path().toString(),
                            p.lossScale(), p.loss(), w.manifestSha256(), w.bytes(), w.removedSteps(), dp.rank(),
                            held.stream().sorted().toList(), ownDigest, replicaDigest));
                });
    }

    private ByteBuffer read(long step, ShardFile f) {
        try {
            return store.readPending(step, generation, f);
        } catch (IOException e) {
            throw new UncheckedIOException("snapshot step " + step + ": cannot read back " + f.name(), e);
        }
    }

    private static int padded(long bytes) {
        return Math.toIntExact((bytes + 3) / 4 * 4);
    }

    private static List<ShardFile> ofRank(List<ShardFile> all, int rank) {
        return all.stream().filter(f -> f.rank() == rank).toList();
    }

    /** A shard's digest as reported: SHA-256 over "name sha256\n" of each of its files, in order. */
    static String digest(List<ShardFile> files) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (ShardFile f : files) {
                d.update((f.name() + " " + f.sha256() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits for the snapshot writes still queued. */
    @Override
    public void close() {
        store.close();
    }

    /** The {@code rank-*} directories under a node's snapshot root, whichever generation's ranks wrote them. */
    static List<Path> rankDirs(Path root) {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> entries = Files.list(root)) {
            entries.filter(p -> p.getFileName().toString().startsWith(RANK_DIR)).sorted().forEach(out::add);
        } catch (NoSuchFileException e) {
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list snapshots in " + root, e);
        }
        return out;
    }
}
