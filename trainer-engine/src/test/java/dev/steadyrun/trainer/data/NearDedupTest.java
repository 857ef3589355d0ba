package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NearDedupTest {

    @TempDir
    Path dir;

    private static final NearDedup.Params PARAMS =
            NearDedup.Params.tuned(0.95, PrepareConfig.NUM_PERM, PrepareConfig.SHINGLE_WORDS);

    /** {@code count} distinct words: every 5-word shingle of the result is distinct. */
    private static String words(String prefix, int count) {
        return IntStream.range(0, count).mapToObj(i -> prefix + "w" + i).collect(Collectors.joining(" "));
    }

    /**
     * A document of {@code shared + 4} distinct words has {@code shared} shingles; appending {@code extra} new words
     * adds {@code extra} shingles, so the pair's Jaccard is exactly shared / (shared + extra).
     */
    private static String[] pair(String prefix, int shared, int extra) {
        String base = words(prefix, shared + 4);
        return new String[] {base, base + " " + words(prefix + "x", extra)};
    }

    /**
     * 20 pairs at exactly 0.951 and 20 at exactly 0.949. A 256-value MinHash estimate has a standard deviation of
     * about 0.014 there, so deciding by the estimate gets roughly half of these wrong; the exact check gets all.
     */
    @Test
    void plantedPairsJustAboveAndBelowTheThresholdAreDecidedByExactJaccard() {
        NearDedup dedup = new NearDedup(PARAMS, 1);
        int wrong = 0;
        for (int p = 0; p < 40; p++) {
            boolean above = p % 2 == 0;
            String[] pair = above ? pair("a" + p, 951, 49) : pair("b" + p, 949, 51);
            assertThat(Shingles.jaccard(Shingles.set(pair[0], 5), Shingles.set(pair[1], 5)))
                    .isEqualTo(above ? 0.951 : 0.949);
            int baseResult = dedup.offer(pair[0]);
            assertThat(baseResult).as("unrelated base document %d is kept", p).isEqualTo(-1);
            int baseId = dedup.kept() - 1;
            int copyResult = dedup.offer(pair[1]);
            if (copyResult != (above ? baseId : -1)) {
                wrong++;
            }
        }
        assertThat(wrong).as("pairs decided against the exact-Jaccard rule").isZero();
    }

    /**
     * Precision and recall by Jaccard band against brute-force exact Jaccard: 600 Europarl documents plus near
     * copies of half of them with up to 3% of their words replaced, many within 0.02 of the threshold.
     */
    @Test
    void precisionAndRecallByJaccardBandOnEuroparlNearCopies() throws IOException {
        List<String> sample = DedupSample.withNearCopies(DedupSample.europarl(dir, 600), 0.5, 0.03, 7);
        DedupEvaluation.Result r = DedupEvaluation.evaluate(sample, PARAMS, 7);
        System.out.println("near-dup on " + r.documents() + " documents: " + r);

        assertThat(r.truePositives()).as("the sample must hold true near duplicates").isGreaterThan(40);
        assertThat(r.precision()).isGreaterThanOrEqualTo(0.999);
        assertThat(r.recall()).isGreaterThanOrEqualTo(0.999);
        assertThat(r.bands()).hasSize(4);
        for (DedupEvaluation.Band b : r.bands()) {
            assertThat(b.removed()).as("band %s", b).isEqualTo(b.from() >= 0.95 ? b.documents() : 0);
        }
        // the bands next to the threshold are populated, so the check above is not vacuous
        assertThat(r.bands().get(1).documents()).isPositive();
        assertThat(r.bands().get(2).documents()).isPositive();
    }

    /**
     * A second, synthetic corpus unlike Europarl: documents of 30 to 600 words from a 3,000-word vocabulary, each
     * with 1 to 3 copies edited by word replacements, insertions and deletions at 0 to 4%, all shuffled (so copies
     * often come before their original). Exact truth is brute force over every earlier kept document.
     */
    @Test
    void precisionAndRecallOnAShuffledSyntheticCorpusWithEdits() {
        SplittableRandom rnd = new SplittableRandom(11);
        List<String> docs = new ArrayList<>();
        for (int d = 0; d < 250; d++) {
            List<String> base = new ArrayList<>();
            int len = 30 + rnd.nextInt(571);
            for (int i = 0; i < len; i++) {
                base.add("v" + rnd.nextInt(3000));
            }
            docs.add(String.join(" ", base));
            for (int c = 1 + rnd.nextInt(3); c > 0; c--) {
                List<String> copy = new ArrayList<>(base);
                int edits = (int) Math.round(rnd.nextDouble() * 0.04 * len);
                for (int e = 0; e < edits; e++) {
                    int at = rnd.nextInt(copy.size());
                    switch (rnd.nextInt(3)) {
                        case 0 -> copy.set(at, "e" + rnd.nextInt(1_000_000));
                        case 1 -> copy.add(at, "e" + rnd.nextInt(1_000_000));
                        default -> copy.remove(at);
                    }
                }
                docs.add(String.join(" ", copy));
            }
        }
        Collections.shuffle(docs, new Random(11));
        DedupEvaluation.Result r = DedupEvaluation.evaluate(docs, PARAMS, 11);
        System.out.println("near-dup on " + r.documents() + " synthetic documents: " + r);

        assertThat(r.truePositives()).isGreaterThan(50);
        assertThat(r.precision()).isGreaterThanOrEqualTo(0.999);
        assertThat(r.recall()).isGreaterThanOrEqualTo(0.999);
        assertThat(r.bands().get(1).documents() + r.bands().get(2).documents()).isPositive();
    }

    /**
     * With a memory budget of 0 every shingle set goes to the spill file and is read back for each candidate; the
     * decisions must be the ones made in memory. A 20,000-shingle pair spans several read buffers.
     */
    @Test
    void spilledShingleSetsGiveTheSameDecisions() throws IOException {
        List<String> docs = new ArrayList<>(DedupSample.withNearCopies(DedupSample.europarl(dir, 300), 0.5, 0.03, 3));
        docs.addAll(List.of(pair("long", 20_000, 100)));
        docs.addAll(List.of(pair("longer", 20_000, 1_100)));
        List<Integer> inMemory = new ArrayList<>();
        List<Integer> spilled = new ArrayList<>();
        try (NearDedup memory = new NearDedup(PARAMS, 3); NearDedup disk = new NearDedup(PARAMS, 3, 0)) {
            for (String d : docs) {
                inMemory.add(memory.offer(d));
                spilled.add(disk.offer(d));
            }
            assertThat(memory.spilledBytes()).isZero();
            assertThat(disk.spilledBytes()).isPositive();
        }
        assertThat(spilled).isEqualTo(inMemory);
        assertThat(inMemory.get(inMemory.size() - 3)).as("Jaccard 0.995 is removed").isNotNegative();
        assertThat(inMemory.get(inMemory.size() - 1)).as("Jaccard 0.948 is kept").isEqualTo(-1);
        assertThat(inMemory).filteredOn(m -> m >= 0).hasSizeGreaterThan(20);
    }

    /** The S-curve value the docs quote: 16 bands x 16 rows for 256 values at 0.95. */
    @Test
    void candidateProbabilityAtTheThresholdIsAtLeast09999() {
        assertThat(PARAMS.bands()).isEqualTo(16);
        assertThat(PARAMS.rows()).isEqualTo(16);
        assertThat(NearDedup.Params.candidateProbability(0.95, 16, 16)).isBetween(0.9999, 0.99992);
    }
}
