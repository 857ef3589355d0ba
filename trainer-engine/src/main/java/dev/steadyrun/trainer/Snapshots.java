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
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.PeerCheck;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.Retention;
import dev.steadyrun.trainer.checkpoint.WrittenCheckpoint;

/**
 * Memory snapshots replicated to the ring neighbour (docs/recovery.md): every {@code snapshotInterval} steps each rank
 * writes its shard (the same files as its part of a format-2 checkpoint, rank 0's state.json included) into its
 * node's snapshot root, a tmpfs directory such as {@code /dev/shm/steadyrun/<run>} that outlives the trainer's JVM
 * but not the node, under {@code rank-R/}. The copy runs on the store's thread while the next step computes (the loop
 * waits for it only before its optimizer update, as for a checkpoint). The rest runs on a replication thread of its
 * own, over a second ring of the same ranks (formed at the first snapshot of a generation), so training goes on
 * meanwhile: the ranks agree the writes succeeded, exchange the files' sums, and each sends its files to its
 * successor ({@link dev.steadyrun.collectives.Collectives#shift}); each rank then writes the replica, verified
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
    /** The world ring's configuration: the replica ring is formed from it. */
    private final DistConfig base;
    private final ExecutorService replicator;
    /** The ranks of the world again, for the replication thread alone; null until the first snapshot. */
    private Collectives replicaRing;
    /** The newest snapshot's replication (its phase two), or null before the first. */
    private CompletableFuture<Void> replicating;
    /** The newest snapshot until the loop waited for its copy. */
    private Pending copying;

    private record Pending(long step, CheckpointStore.ShardWrite write, long tokensSeen, double lossScale,
                           double loss, long takenAt) {
    }

    private Snapshots(Path root, DataParallel dp, Consumer<TrainerLine> sink, long generation, DistConfig base) {
        this.store = new CheckpointStore(root.resolve(RANK_DIR + dp.rank()), new Retention(KEEP, 0));
        this.dp = dp;
        this.sink = sink;
        this.generation = generation;
        this.base = base;
        this.replicator = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "snapshot-replica");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * This rank's snapshots under the node's snapshot root, or null when the launch names none (snapshots off).
     *
     * @param base the configuration of {@code dp}'s ring, the world's
     */
    static Snapshots open(Path root, long interval, DataParallel dp, Consumer<TrainerLine> sink, long generation,
                          DistConfig base) {
        if (root == null || interval == 0) {
            return null;
        }
        return new Snapshots(root, dp, sink, generation, base);
    }

    /**
     * Phase one at the end of a step, on every rank alike: hands this rank's shard (and on rank 0 the state) to the
     * store's thread, which copies and writes it while the next step runs, and queues phase two on the replication
     * thread. The first snapshot of a generation forms the replica ring here (a collective on the training ring).
     */
    void take(TrainState s, double lossScale, double loss) {
        if (replicaRing == null && dp.worldSize() > 1) {
            long t0 = System.nanoTime();
            replicaRing = ParallelGroups.sameRanks(dp.ring(), base, "replica");
            log.info("snapshot replica ring formed in {} ms", String.format(Locale.ROOT, "%.1f",
                    (System.nanoTime() - t0) / 1e6));
        }
        CheckpointStore.ShardWrite write = store.writeShardsAsync(s.step(), generation, dp.rank(), dp.shardParts(),
                dp.rank() == 0 ? s.toJson() : null);
        Pending p = new Pending(s.step(), write, s.tokensSeen(), lossScale, loss, System.nanoTime());
        copying = p;
        replicating = CompletableFuture.runAsync(() -> replicate(p), replicator);
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

    /**
     * Whether the newest snapshot is still being written or replicated: the next one is then skipped. Every rank
     * must decide alike, so the ranks agree (an all-reduce on the training ring, in the slot between steps).
     */
    boolean busy() {
        double[] busy = {replicating != null && !replicating.isDone() ? 1 : 0};
        dp.ring().allReduceSum(busy);
        return busy[0] > 0;
    }

    /** At the end of the session, on every rank: waits for the newest snapshot's replication. */
    void finish() {
        waitForCopy();
        if (replicating != null) {
            replicating.handle((ok, error) -> null).join();
        }
    }

    /**
     * Phase two, on the replication thread, on every rank alike (collectives on the replica ring): the ranks agree
     * whether every shard is written, exchange the files' sums, shift each rank's files to its successor, and each
     * commits its snapshot (own files and replica) on the store's thread, then reports it. A failure here (a peer
     * lost) only loses this snapshot: the training ring finds the peer's loss on its own.
     */
    private void replicate(Pending p) {
        try {
            List<ShardFile> mine;
            Throwable failed = null;
            try {
                mine = p.write().written().join();
            } catch (CompletionException e) {
                mine = List.of();
                failed = e.getCause();
            }
            int world = dp.worldSize();
            double[] counts = {failed == null ? 1 : 0, failed == null ? 0 : 1};
            if (world > 1) {
                replicaRing.allReduceSum(counts);
            }
            if (counts[1] > 0) {
                log.error("snapshot step {} abandoned: {} rank(s) could not write their shards", p.step(),
                        (int) counts[1], failed);
                store.discardAsync(p.step(), generation);
                return;
            }
            List<ShardFile> all = world == 1 ? mine : dp.exchangeShardFilesOver(mine, replicaRing);
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
                replicaRing.shift(out, in);
                if (i < theirs.size()) {
                    replica.put(theirs.get(i), in);
                }
            }
            Set<Integer> held = world == 1 ? Set.of(dp.rank()) : Set.of(dp.rank(), predecessor);
            String ownDigest = digest(own);
            String replicaDigest = world == 1 ? null : digest(theirs);
            WrittenCheckpoint w = store.commitSnapshotAsync(p.step(), generation, world, dp.layout(), all, replica,
                    held).join();
            log.info("snapshot step {}: replicated {} ms after it was taken, beside training", p.step(),
                    String.format(Locale.ROOT, "%.1f", (System.nanoTime() - p.takenAt()) / 1e6));
            sink.accept(CheckpointWritten.memory(w.step(), p.tokensSeen(), w.path().toString(), p.lossScale(),
                    p.loss(), w.manifestSha256(), w.bytes(), w.removedSteps(), dp.rank(),
                    held.stream().sorted().toList(), ownDigest, replicaDigest));
        } catch (RuntimeException e) {
            log.error("snapshot step {} not replicated on this rank", p.step(), e);
        }
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

    /**
     * Ends the replication (closing the replica ring releases a thread waiting for a peer that is gone), then waits
     * for the snapshot writes still queued.
     */
    @Override
    public void close() {
        if (replicaRing != null) {
            replicaRing.close();
        }
        replicator.shutdown();
        try {
            if (!replicator.awaitTermination(30, TimeUnit.SECONDS)) {
                log.warn("the snapshot replication thread did not end within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
