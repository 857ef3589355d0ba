package dev.steadyrun.trainer.data;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The summary of a prepare run: printed at the end and written as {@code report.json} beside the manifest. */
public record PrepareReport(String out, double seconds, long documentsIn, long bytesIn, Map<String, Long> badInput,
                            long exactDuplicates, long nearDuplicates, long documentsWritten, long trainTokens,
                            long valTokens, Dedup dedup, List<Source> sources) {

    public static final String FILE = "report.json";

    /** Per-source counts; {@code badInput} is keyed by {@link BadInput} in lower case. */
    public record Source(String name, long files, long documentsIn, long bytesIn, Map<String, Long> badInput,
                         long exactDuplicates, long nearDuplicates, long documentsKept, long sampledOut,
                         long documentsWritten, long trainTokens, long valTokens) {
    }

    /** The near-duplicate settings used and, on the checked sample, precision and recall against exact Jaccard. */
    public record Dedup(double threshold, int numPerm, int shingleWords, int bands, int rows, long indexBytes,
                        long spilledBytes, int sampleDocuments, long samplePairs, long truePositives, long falsePositives,
                        long falseNegatives, double precision, double recall) {
    }

    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "prepared %s in %.1f s: %,d documents in (%.1f MB), %,d exact and %,d "
                        + "near duplicates removed, %,d documents written, %,d train + %,d val tokens%n", out, seconds,
                documentsIn, bytesIn / 1e6, exactDuplicates, nearDuplicates, documentsWritten, trainTokens,
                valTokens));
        if (!badInput.isEmpty()) {
            b.append("bad input skipped: ").append(badInput).append('\n');
        }
        b.append(String.format(Locale.ROOT, "%-16s %10s %10s %9s %9s %10s %14s %12s  %s%n", "source", "docs in",
                "MB in", "exact dup", "near dup", "written", "train tokens", "val tokens", "bad input"));
        for (Source s : sources) {
            b.append(String.format(Locale.ROOT, "%-16s %,10d %10.1f %,9d %,9d %,10d %,14d %,12d  %s%n", s.name(),
                    s.documentsIn(), s.bytesIn() / 1e6, s.exactDuplicates(), s.nearDuplicates(),
                    s.documentsWritten(), s.trainTokens(), s.valTokens(), s.badInput().isEmpty() ? "-" : s.badInput()));
        }
        b.append(String.format(Locale.ROOT, "near-dup: exact Jaccard >= %s, LSH candidates from %d MinHash values, "
                        + "%d bands x %d rows, index %.1f MB in memory + %.1f MB spilled; on %,d sampled documents vs "
                        + "exact Jaccard: precision %.4f, recall %.4f (TP %d, FP %d, FN %d)%n", dedup.threshold(),
                dedup.numPerm(), dedup.bands(), dedup.rows(), dedup.indexBytes() / 1e6, dedup.spilledBytes() / 1e6,
                dedup.sampleDocuments(), dedup.precision(), dedup.recall(),
                dedup.truePositives(), dedup.falsePositives(), dedup.falseNegatives()));
        return b.toString();
    }
}
