package dev.steadyrun.trainer.data;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Settings of one {@code prepare} run, validated on construction; the defaults live in {@link #defaults}.
 *
 * @param valFraction      share of documents (chosen by content hash and seed) written to the "val" split
 * @param jaccard          near-duplicate threshold on word-shingle Jaccard similarity (OPT: 0.95)
 * @param shardTokens      tokens per shard file (2 bytes each)
 * @param numPerm          MinHash values per document; bands and rows are derived ({@link NearDedup.Params#tuned})
 * @param shingleWords     words per shingle
 * @param maxDocumentBytes longest line / text file accepted; longer ones are counted and skipped
 * @param maxDocuments     stop after this many documents have been read, over all sources
 * @param dedupSample      documents whose dedup decisions are checked against exact Jaccard for the report
 * @param threads          tokenizer threads; the output does not depend on it
 * @param force            replace an existing dataset in {@code out}
 */
public record PrepareConfig(List<SourceSpec> sources, Path out, double valFraction, long seed, double jaccard,
                            long shardTokens, int numPerm, int shingleWords, int maxDocumentBytes, long maxDocuments,
                            int dedupSample, int threads, boolean force) {

    public static final double VAL_FRACTION = 0.01;
    public static final long SEED = 1234;
    public static final double JACCARD = 0.95;
    public static final long SHARD_TOKENS = 1L << 26;
    public static final int NUM_PERM = 256;
    public static final int SHINGLE_WORDS = 5;
    public static final int MAX_DOCUMENT_BYTES = 8 << 20;
    public static final int DEDUP_SAMPLE = 2000;
    public static final int THREADS = Runtime.getRuntime().availableProcessors();

    public PrepareConfig {
        if (sources == null || sources.isEmpty()) {
            throw new IllegalArgumentException("sources: at least one source is required");
        }
        Set<String> names = new HashSet<>();
        for (SourceSpec s : sources) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("sources: name '" + s.name() + "' is used twice");
            }
        }
        sources = List.copyOf(sources);
        if (out == null) {
            throw new IllegalArgumentException("out: an output directory is required");
        }
        if (!(valFraction >= 0 && valFraction < 1)) {
            throw new IllegalArgumentException("valFraction must be in [0, 1), was " + valFraction);
        }
        if (shardTokens < 2 || shardTokens > TokenShards.MAX_SHARD_TOKENS) {
            throw new IllegalArgumentException("shardTokens must be in [2, " + TokenShards.MAX_SHARD_TOKENS
                    + "], was " + shardTokens);
        }
        if (maxDocumentBytes < 1) {
            throw new IllegalArgumentException("maxDocumentBytes must be >= 1, was " + maxDocumentBytes);
        }
        if (maxDocuments < 1) {
            throw new IllegalArgumentException("maxDocuments must be >= 1, was " + maxDocuments);
        }
        if (dedupSample < 0) {
            throw new IllegalArgumentException("dedupSample must be >= 0, was " + dedupSample);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, was " + threads);
        }
        nearDedupParams(jaccard, numPerm, shingleWords);   // validates those three
    }

    public static PrepareConfig defaults(List<SourceSpec> sources, Path out) {
        return new PrepareConfig(sources, out, VAL_FRACTION, SEED, JACCARD, SHARD_TOKENS, NUM_PERM, SHINGLE_WORDS,
                MAX_DOCUMENT_BYTES, Long.MAX_VALUE, DEDUP_SAMPLE, THREADS, false);
    }

    public PrepareConfig withMaxDocuments(long n) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords,
                maxDocumentBytes, n, dedupSample, threads, force);
    }

    public PrepareConfig withShardTokens(long n) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, n, numPerm,
                shingleWords, maxDocumentBytes, maxDocuments, dedupSample, threads, force);
    }

    public PrepareConfig withMaxDocumentBytes(int n) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords, n,
                maxDocuments, dedupSample, threads, force);
    }

    public PrepareConfig withValFraction(double f) {
        return new PrepareConfig(sources, out, f, seed, jaccard, shardTokens, numPerm, shingleWords,
                maxDocumentBytes, maxDocuments, dedupSample, threads, force);
    }

    public PrepareConfig withDedupSample(int n) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords,
                maxDocumentBytes, maxDocuments, n, threads, force);
    }

    public PrepareConfig withThreads(int n) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords,
                maxDocumentBytes, maxDocuments, dedupSample, n, force);
    }

    public PrepareConfig withForce(boolean f) {
        return new PrepareConfig(sources, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords,
                maxDocumentBytes, maxDocuments, dedupSample, threads, f);
    }

    NearDedup.Params nearDedup() {
        return nearDedupParams(jaccard, numPerm, shingleWords);
    }

    private static NearDedup.Params nearDedupParams(double jaccard, int numPerm, int shingleWords) {
        if (!(jaccard > 0 && jaccard <= 1)) {
            throw new IllegalArgumentException("jaccard must be in (0, 1], was " + jaccard);
        }
        if (numPerm < 1 || numPerm > 1024) {
            throw new IllegalArgumentException("numPerm must be in [1, 1024], was " + numPerm);
        }
        return NearDedup.Params.tuned(jaccard, numPerm, shingleWords);
    }

    /** Everything that decides the output, in one line: a dataset is reused only when its recipe matches. */
    String recipe() {
        String src = sources.stream()
                .map(s -> s.name() + "=" + s.path().getFileName() + ",weight=" + s.weight() + ",format="
                        + (s.format() == null ? "guess" : s.format().id()) + ",field=" + s.field() + ",normalize="
                        + s.normalize())
                .collect(Collectors.joining(";"));
        return String.format(Locale.ROOT, "sources[%s] val=%s seed=%d jaccard=%s shardTokens=%d numPerm=%d "
                        + "shingle=%d maxDocBytes=%d maxDocs=%d", src, valFraction, seed, jaccard, shardTokens,
                numPerm, shingleWords, maxDocumentBytes, maxDocuments);
    }
}
