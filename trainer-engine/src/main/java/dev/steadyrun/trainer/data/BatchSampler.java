package dev.steadyrun.trainer.data;

import java.util.SplittableRandom;

/**
 * Deterministic batches of fixed-length windows over token shards.
 *
 * <p>Shard {@code s} with {@code T} tokens holds {@code (T - 1) / seqLen} windows; window {@code k} is the
 * {@code seqLen + 1} tokens starting at {@code k * seqLen} (inputs plus the targets shifted by one). Each epoch
 * visits every shard once in a seeded order, and inside a shard every window once in a seeded order (a
 * Fisher–Yates permutation of its windows, so memory is one int per window of the current shard). Both orders
 * depend only on {@code (seed, epoch, shard)}, which makes the position, and so the {@link DataCursor}, exact.
 *
 * <p>All ranks walk the same global window stream: a global batch is the next {@code worldSize * batchSize}
 * windows, of which rank {@code r} takes slice {@code [r * batchSize, (r + 1) * batchSize)}. Ranks therefore read
 * disjoint windows and share one cursor. The tail of a shard shorter than a window is never read.
 */
public final class BatchSampler {

    private final TokenShards data;
    private final long seed;
    private final int batchSize;
    private final int seqLen;
    private final int rank;
    private final int worldSize;
    private final int[] windows;      // per shard

    private long epoch;
    private int[] order;              // shards with at least one window, in this epoch's order
    private int orderPos;
    private int[] perm;               // window order of shard order[orderPos]; null until needed
    private int pos;                  // next index into perm

    public BatchSampler(TokenShards data, long seed, int batchSize, int seqLen, int rank, int worldSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, was " + batchSize);
        }
        if (seqLen < 1) {
            throw new IllegalArgumentException("seqLen must be >= 1, was " + seqLen);
        }
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank must be in [0, worldSize), was rank " + rank + " of worldSize "
                    + worldSize);
        }
        this.data = data;
        this.seed = seed;
        this.batchSize = batchSize;
        this.seqLen = seqLen;
        this.rank = rank;
        this.worldSize = worldSize;
        this.windows = new int[data.shardCount()];
        long total = 0;
        for (int s = 0; s < windows.length; s++) {
            windows[s] = (int) Math.max(0, (data.shardTokens(s) - 1) / seqLen);
            total += windows[s];
        }
        if (total == 0) {
            throw new IllegalArgumentException("seqLen " + seqLen + ": no shard of split '" + data.split()
                    + "' holds a full window of " + (seqLen + 1) + " tokens (" + data.tokens() + " tokens in all)");
        }
        enterEpoch(0);
    }

    /** {@code batchSize} rows of {@code seqLen + 1} token ids for this rank. */
    public int[][] next() {
        int[][] batch = new int[batchSize][seqLen + 1];
        int from = rank * batchSize;
        int global = worldSize * batchSize;
        for (int i = 0; i < global; i++) {
            if (i >= from && i < from + batchSize) {
                int shard = order[orderPos];
                data.read(shard, (long) perm()[pos] * seqLen, batch[i - from], 0, seqLen + 1);
            }
            advance(1);
        }
        return batch;
    }

    public DataCursor cursor() {
        int shard = order[orderPos];
        return new DataCursor(shard, (long) perm()[pos] * seqLen, epoch);
    }

    public void restore(DataCursor cursor) {
        if (cursor.epoch() < 0) {
            throw new IllegalArgumentException("cursor.epoch must be >= 0, was " + cursor.epoch());
        }
        if (cursor.shard() < 0 || cursor.shard() >= windows.length || windows[cursor.shard()] == 0) {
            throw new IllegalArgumentException("cursor.shard " + cursor.shard() + " is not a readable shard of split '"
                    + data.split() + "' (" + windows.length + " shards)");
        }
        long window = cursor.offset() / seqLen;
        if (cursor.offset() < 0 || cursor.offset() % seqLen != 0 || window >= windows[cursor.shard()]) {
            throw new IllegalArgumentException("cursor.offset " + cursor.offset() + " is not the start of a window of "
                    + seqLen + " tokens in shard " + cursor.shard() + " (saved with another seqLen?)");
        }
        enterEpoch(cursor.epoch());
        orderPos = indexOf(order, cursor.shard());
        perm = null;
        pos = indexOf(perm(), (int) window);
    }

    /** Exactly as if {@code batches} batches were drawn and thrown away (PaLM's way past a loss spike). */
    public void skip(long batches) {
        if (batches < 0) {
            throw new IllegalArgumentException("batches must be >= 0, was " + batches);
        }
        advance(Math.multiplyExact(batches, (long) worldSize * batchSize));
    }

    private void advance(long n) {
        while (n > 0) {
            long left = windows[order[orderPos]] - pos;
            if (n < left) {
                pos += (int) n;
                return;
            }
            n -= left;
            perm = null;
            pos = 0;
            if (++orderPos == order.length) {
                enterEpoch(epoch + 1);
            }
        }
    }

    private void enterEpoch(long e) {
        epoch = e;
        int readable = 0;
        for (int w : windows) {
            readable += w > 0 ? 1 : 0;
        }
        int[] o = new int[readable];
        for (int s = 0, i = 0; s < windows.length; s++) {
            if (windows[s] > 0) {
                o[i++] = s;
            }
        }
        shuffle(o, new SplittableRandom(mix(seed, e, -1)));
        order = o;
        orderPos = 0;
        perm = null;
        pos = 0;
    }

    private int[] perm() {
        if (perm == null) {
            int shard = order[orderPos];
            int[] p = new int[windows[shard]];
            for (int i = 0; i < p.length; i++) {
                p[i] = i;
            }
            shuffle(p, new SplittableRandom(mix(seed, epoch, shard)));
            perm = p;
        }
        return perm;
    }

    private static void shuffle(int[] a, SplittableRandom rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        throw new IllegalStateException("value " + v + " missing from permutation");
    }

    private static long mix(long seed, long epoch, long shard) {
        return Hashing.mix64(Hashing.mix64(seed ^ Hashing.mix64(epoch + 0x9E3779B97F4A7C15L)) + shard);
    }
}
