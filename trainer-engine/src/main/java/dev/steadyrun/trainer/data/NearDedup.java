package dev.steadyrun.trainer.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Streaming near-duplicate filter: MinHash signatures over word shingles and LSH banding find candidates among
 * the documents kept so far; each candidate is then decided by the exact Jaccard similarity of the two shingle
 * sets, so the rule applied is exactly "Jaccard &ge; threshold", not an estimate of it.
 *
 * <p>Why two stages: banding alone is sharp at Jaccard 0.95 only with very many rows per band (about 1,000
 * hashes a document), so the bands are tuned for recall ({@link Params#tuned}: the most rows per band for which
 * a pair exactly at the threshold still shares a band with probability at least 0.9999), and the exact check
 * removes the false candidates. A 256-value MinHash estimate has a standard deviation of 0.014 at 0.95, which
 * is why it may not decide. Memory per kept document: its sorted shingle hashes ({@link ShingleSets}, 8 bytes a
 * distinct shingle) plus {@code bands} bucket entries; the text itself is never held.
 */
final class NearDedup implements AutoCloseable {

    private static final double MIN_CANDIDATE_RECALL = 0.9999;

    /** Settings; {@code bands * rows <= numPerm}. */
    record Params(double threshold, int numPerm, int shingleWords, int bands, int rows) {

        Params {
            if (!(threshold > 0 && threshold <= 1)) {
                throw new IllegalArgumentException("jaccard threshold must be in (0, 1], was " + threshold);
            }
            if (numPerm < 1 || bands < 1 || rows < 1 || bands * rows > numPerm) {
                throw new IllegalArgumentException("need 1 <= bands * rows <= numPerm, was " + bands + " x " + rows
                        + " of " + numPerm);
            }
            if (shingleWords < 1) {
                throw new IllegalArgumentException("shingleWords must be >= 1, was " + shingleWords);
            }
        }

        static Params tuned(double threshold, int numPerm, int shingleWords) {
            for (int rows = numPerm; rows >= 1; rows--) {
                int bands = numPerm / rows;
                if (candidateProbability(threshold, bands, rows) >= MIN_CANDIDATE_RECALL) {
                    return new Params(threshold, numPerm, shingleWords, bands, rows);
                }
            }
            return new Params(threshold, numPerm, shingleWords, numPerm, 1);
        }

        /** Probability that a pair with Jaccard {@code j} shares at least one band: 1 - (1 - j^r)^b. */
        static double candidateProbability(double j, int bands, int rows) {
            return 1 - Math.pow(1 - Math.pow(j, rows), bands);
        }
    }

    private final Params params;
    private final int[] mulA;
    private final int[] addB;
    private final int[] sig;
    private final LongIntMultiMap buckets = new LongIntMultiMap();
    private final ShingleSets sets;
    private int[] candidates = new int[16];
    private int candidateCount;

    NearDedup(Params params, long seed) {
        this(params, seed, Long.MAX_VALUE);
    }

    /** Shingle sets beyond {@code memoryBudget} bytes go to a temporary file ({@link ShingleSets}). */
    NearDedup(Params params, long seed, long memoryBudget) {
        this.params = params;
        this.sets = new ShingleSets(memoryBudget);
        SplittableRandom rnd = new SplittableRandom(seed);
        this.mulA = new int[params.numPerm()];
        this.addB = new int[params.numPerm()];
        for (int i = 0; i < params.numPerm(); i++) {
            mulA[i] = rnd.nextInt() | 1;
            addB[i] = rnd.nextInt();
        }
        this.sig = new int[params.numPerm()];
    }

    /**
     * Offers the next document. Returns -1 when it is new (it is then indexed and gets the next id, counting from
     * 0), else the id of the kept document it nearly duplicates.
     */
    int offer(String text) {
        long[] set = Shingles.set(text, params.shingleWords());
        signature(set);
        int r = params.rows();
        long[] bandKeys = new long[params.bands()];
        candidateCount = 0;
        for (int band = 0; band < bandKeys.length; band++) {
            long h = band * 0x9E3779B97F4A7C15L;
            for (int i = band * r; i < band * r + r; i++) {
                h = Hashing.mix64(h ^ sig[i]);
            }
            bandKeys[band] = h;
            buckets.forEach(h, this::addCandidate);
        }
        for (int c = 0; c < candidateCount; c++) {
            if (sets.similar(set, candidates[c], params.threshold())) {
                return candidates[c];
            }
        }
        int id = sets.add(set);
        for (long key : bandKeys) {
            buckets.put(key, id);
        }
        return -1;
    }

    int kept() {
        return sets.size();
    }

    /** Bytes held in memory by the index (shingle sets and buckets), the only part that grows with the corpus. */
    long indexBytes() {
        return sets.bytes() + buckets.bytes();
    }

    /** Bytes of shingle sets spilled to disk because they did not fit the memory budget. */
    long spilledBytes() {
        return sets.spilledBytes();
    }

    /** Deletes the spill file, if any. */
    @Override
    public void close() {
        sets.close();
    }

    private void addCandidate(int id) {
        for (int c = 0; c < candidateCount; c++) {
            if (candidates[c] == id) {
                return;
            }
        }
        if (candidateCount == candidates.length) {
            candidates = Arrays.copyOf(candidates, candidateCount * 2);
        }
        candidates[candidateCount++] = id;
    }

    /**
     * 32-bit MinHash: function {@code i} maps the (already well-mixed) shingle hash {@code x} to
     * {@code a[i] * x + b[i]} mod 2^32 with odd {@code a[i]}, a permutation of the 32-bit values. Measured on
     * Europarl near copies its estimate is unbiased (mean error below 0.001, RMS error as theory predicts), and
     * the loop is plain int arithmetic that the JIT vectorizes.
     */
    private void signature(long[] shingleSet) {
        Arrays.fill(sig, Integer.MAX_VALUE);
        int[] a = mulA;
        int[] b = addB;
        int[] s = sig;
        for (long shingle : shingleSet) {
            int x = (int) (shingle ^ (shingle >>> 32));
            for (int i = 0; i < s.length; i++) {
                s[i] = Math.min(s[i], x * a[i] + b[i]);
            }
        }
    }
}
