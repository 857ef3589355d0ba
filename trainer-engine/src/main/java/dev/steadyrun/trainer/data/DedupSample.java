package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds samples for measuring near-duplicate detection: real documents, each followed (for a seeded subset) by
 * a near copy in which a random share of its words, up to {@code maxEditFraction}, is replaced by words from
 * elsewhere in the sample. Edited pairs land on both sides of the 0.95 threshold, so the sample tests both
 * precision and recall; exact Jaccard decides the truth.
 */
final class DedupSample {

    private DedupSample() {
    }

    /** The first {@code n} non-empty, normalized documents of the Europarl sample (extracted into {@code dir}). */
    static List<String> europarl(Path dir, int n) throws IOException {
        List<String> docs = new ArrayList<>();
        try (DocumentReader r = new DocumentReader(Europarl.source(dir), PrepareConfig.MAX_DOCUMENT_BYTES,
                new SourceStats("europarl"))) {
            for (String d = r.next(); d != null && docs.size() < n; d = r.next()) {
                String text = Normalizer.normalize(d);
                if (!text.isBlank()) {
                    docs.add(text);
                }
            }
        }
        return docs;
    }

    static List<String> withNearCopies(List<String> real, double copyShare, double maxEditFraction, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<String> vocabulary = new ArrayList<>();
        for (String d : real) {
            for (String w : d.split("\\s+")) {
                if (vocabulary.size() < 100_000) {
                    vocabulary.add(w);
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (String doc : real) {
            out.add(doc);
            if (rnd.nextDouble() < copyShare) {
                String[] words = doc.split(" ");
                int edits = (int) Math.round(rnd.nextDouble() * maxEditFraction * words.length);
                for (int e = 0; e < edits; e++) {
                    words[rnd.nextInt(words.length)] = vocabulary.get(rnd.nextInt(vocabulary.size()));
                }
                out.add(String.join(" ", words));
            }
        }
        return out;
    }
}
