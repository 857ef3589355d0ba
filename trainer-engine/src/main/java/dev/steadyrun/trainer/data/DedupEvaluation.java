package dev.steadyrun.trainer.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Checks near-duplicate decisions against exact Jaccard similarity on the first {@code capacity} documents that
 * reach the near-duplicate stage. Exact truth for document {@code d}: some earlier <em>kept</em> document has
 * Jaccard &ge; threshold with it. Precision: of the removed documents, the share whose matched document really
 * is that similar. Recall: true positives over true positives plus documents kept although an earlier kept
 * document was that similar (a document removed for the wrong partner counts once, as a false positive).
 * Holds the sample's shingle sets, so it is bounded by {@code capacity}, not by the corpus.
 */
final class DedupEvaluation {

    /** Counts and rates; a rate with an empty denominator is reported as 1. */
    record Result(int documents, long pairs, long truePositives, long falsePositives, long falseNegatives,
                  double precision, double recall, List<Band> bands) {
    }

    /**
     * The sample documents whose highest exact Jaccard with an earlier kept document lies in [from, to) (the last
     * band is [from, 1]), and how many of them were removed. Below the threshold every removal is a false
     * positive, at or above it every kept document a false negative: this shows where the errors sit.
     */
    record Band(double from, double to, long documents, long removed) {

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "[%.3f, %.3f%s: %d removed of %d", from, to,
                    to == 1 ? "]" : ")", removed, documents);
        }
    }

    private final double threshold;
    private final int shingleWords;
    private final int capacity;
    private final List<long[]> sets = new ArrayList<>();
    private final List<Integer> matched = new ArrayList<>();   // kept id matched, or -1 if kept
    private final List<Integer> keptIds = new ArrayList<>();   // kept id of each sample document, or -1

    DedupEvaluation(NearDedup.Params params, int capacity) {
        this.threshold = params.threshold();
        this.shingleWords = params.shingleWords();
        this.capacity = capacity;
    }

    boolean wants() {
        return sets.size() < capacity;
    }

    /** Records the outcome of {@code dedup.offer(text)}; call for consecutive offers from the first one. */
    void record(String text, int offerResult, NearDedup dedup) {
        sets.add(Shingles.set(text, shingleWords));
        matched.add(offerResult);
        keptIds.add(offerResult < 0 ? dedup.kept() - 1 : -1);
    }

    Result result() {
        int n = sets.size();
        int[] sampleOfKept = new int[n];
        Arrays.fill(sampleOfKept, -1);
        long pairs = 0;
        long tp = 0;
        long fp = 0;
        long fn = 0;
        double[] edges = bandEdges(threshold);
        long[] bandDocs = new long[edges.length - 1];
        long[] bandRemoved = new long[edges.length - 1];
        List<Integer> keptSoFar = new ArrayList<>();
        for (int d = 0; d < n; d++) {
            double best = 0;
            long[] a = sets.get(d);
            for (int k : keptSoFar) {
                pairs++;
                long[] b = sets.get(k);
                // |A ∩ B| / |A ∪ B| <= min(|A|, |B|) / max(|A|, |B|): most pairs are ruled out by size alone
                if (Math.min(a.length, b.length) >= edges[0] * Math.max(a.length, b.length)) {
                    best = Math.max(best, Shingles.jaccard(a, b));
                }
            }
            boolean truth = best >= threshold;
            int m = matched.get(d);
            int band = edges.length - 2;
            while (band >= 0 && best < edges[band]) {
                band--;
            }
            if (band >= 0) {
                bandDocs[band]++;
                bandRemoved[band] += m >= 0 ? 1 : 0;
            }
            if (m >= 0) {
                int partner = m < n ? sampleOfKept[m] : -1;
                boolean right = partner >= 0 && Shingles.jaccard(sets.get(d), sets.get(partner)) >= threshold;
                if (right) {
                    tp++;
                } else {
                    fp++;
                }
            } else {
                if (truth) {
                    fn++;
                }
                int id = keptIds.get(d);
                if (id < n) {
                    sampleOfKept[id] = d;
                }
                keptSoFar.add(d);
            }
        }
        List<Band> bands = new ArrayList<>();
        for (int b = 0; b < bandDocs.length; b++) {
            bands.add(new Band(edges[b], edges[b + 1], bandDocs[b], bandRemoved[b]));
        }
        double precision = tp + fp == 0 ? 1 : (double) tp / (tp + fp);
        double recall = tp + fn == 0 ? 1 : (double) tp / (tp + fn);
        return new Result(n, pairs, tp, fp, fn, precision, recall, List.copyOf(bands));
    }

    /**
     * Band edges around the threshold: two bands below it (within 0.05) and two above. Documents under the lowest
     * edge are far from any decision and not banded.
     */
    private static double[] bandEdges(double t) {
        double low = Math.max(0, t - 0.05);
        double mid = Math.max(low, t - 0.02);
        return new double[] {low, mid, t, (t + 1) / 2, 1};
    }

    /** Runs a fresh {@link NearDedup} over {@code docs} in order and evaluates every decision. */
    static Result evaluate(List<String> docs, NearDedup.Params params, long seed) {
        DedupEvaluation eval = new DedupEvaluation(params, docs.size());
        try (NearDedup dedup = new NearDedup(params, seed)) {
            for (String doc : docs) {
                eval.record(doc, dedup.offer(doc), dedup);
            }
        }
        return eval.result();
    }
}
