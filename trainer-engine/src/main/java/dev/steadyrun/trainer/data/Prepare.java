package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The prepare pipeline, one streaming pass: read → normalize → drop empty → exact dedup (64-bit content hash)
 * → near dedup (MinHash LSH candidates, exact Jaccard decision) → weight (repeat or sample) → GPT-2 BPE →
 * train/val shards → manifest and report. Only the two dedup indexes grow with the corpus (shingle sets beyond
 * half the heap spill to a temporary file); documents are read and deduplicated one at a time on this
 * thread, then tokenized in small ordered batches ({@link TokenizingWriter}).
 */
public final class Prepare {

    private static final Pattern OUTPUT_FILE = Pattern.compile("(train|val)-\\d{5}\\.bin|manifest\\.json(\\.tmp)?"
            + "|report\\.json");

    private final PrepareConfig config;
    private final Clock clock;
    private final PrintStream progressOut;

    /** {@code progressOut} receives the live status line; null for none. */
    public Prepare(PrepareConfig config, Clock clock, PrintStream progressOut) {
        this.config = config;
        this.clock = clock;
        this.progressOut = progressOut;
    }

    public PrepareReport run() throws IOException {
        long start = clock.millis();
        Path out = config.out();
        clearOutput(out);

        List<SourceSpec> specs = config.sources();
        List<SourceStats> stats = new ArrayList<>();
        List<DocumentReader> readers = new ArrayList<>();
        long totalBytes = 0;
        NearDedup near = null;
        try {
            for (SourceSpec spec : specs) {
                SourceStats s = new SourceStats(spec.name());
                stats.add(s);
                DocumentReader r = new DocumentReader(spec, config.maxDocumentBytes(), s);
                readers.add(r);
                totalBytes += r.totalBytes();
            }
            NearDedup.Params params = config.nearDedup();
            // half the heap for shingle sets leaves the rest for buckets, the tokenizer and in-flight batches
            near = new NearDedup(params, config.seed(), Runtime.getRuntime().maxMemory() / 2);
            DedupEvaluation evaluation = new DedupEvaluation(params, config.dedupSample());
            LongSet exact = new LongSet();
            Progress progress = progressOut == null ? null
                    : new Progress(progressOut, clock, Duration.ofMillis(500));
            boolean[] done = new boolean[readers.size()];
            long documents = 0;
            Map<String, Manifest.Split> splits;
            try (TokenizingWriter writer = new TokenizingWriter(out, config)) {
                while (documents < config.maxDocuments()) {
                    int i = nextSource(readers, done);
                    if (i < 0) {
                        break;
                    }
                    String raw = readers.get(i).next();
                    if (raw == null) {
                        done[i] = true;
                        continue;
                    }
                    documents++;
                    SourceSpec spec = specs.get(i);
                    SourceStats s = stats.get(i);
                    String text = spec.normalize() ? Normalizer.normalize(raw) : raw;
                    long hash = Hashing.hash(text);
                    if (text.isBlank()) {
                        s.bad(BadInput.EMPTY_DOCUMENT);
                    } else if (!exact.add(hash)) {
                        s.exactDuplicates++;
                    } else {
                        int match = near.offer(text);
                        if (evaluation.wants()) {
                            evaluation.record(text, match, near);
                        }
                        if (match >= 0) {
                            s.nearDuplicates++;
                        } else {
                            writer.add(text, hash, spec.weight(), s);
                        }
                    }
                    if (progress != null) {
                        progress.update(documents, bytesRead(readers), totalBytes);
                    }
                }
                if (progress != null) {
                    progress.finish();
                }
                splits = writer.finish();
            }
            new Manifest(Manifest.VERSION, Gpt2Tokenizer.NAME, Manifest.DTYPE, Gpt2Tokenizer.EOT,
                    Gpt2Tokenizer.VOCAB_SIZE, config.recipe(), splits).write(out);
            PrepareReport report = report(stats, params, near, evaluation.result(),
                    (clock.millis() - start) / 1000.0);
            Files.writeString(out.resolve(PrepareReport.FILE), Manifest.JSON.writeValueAsString(report),
                    StandardCharsets.UTF_8);
            return report;
        } finally {
            for (DocumentReader r : readers) {
                r.close();
            }
            if (near != null) {
                near.close();
            }
        }
    }

    /** The unfinished source that is furthest behind in its share of input bytes, so shards hold the mix. */
    private static int nextSource(List<DocumentReader> readers, boolean[] done) {
        int best = -1;
        double bestFraction = Double.MAX_VALUE;
        for (int i = 0; i < readers.size(); i++) {
            if (done[i]) {
                continue;
            }
            DocumentReader r = readers.get(i);
            double fraction = r.totalBytes() == 0 ? 0 : (double) r.bytesRead() / r.totalBytes();
            if (fraction < bestFraction) {
                bestFraction = fraction;
                best = i;
            }
        }
        return best;
    }

    private static long bytesRead(List<DocumentReader> readers) {
        long sum = 0;
        for (DocumentReader r : readers) {
            sum += r.bytesRead();
        }
        return sum;
    }

    private void clearOutput(Path out) throws IOException {
        Files.createDirectories(out);
        if (Files.exists(out.resolve(Manifest.FILE)) && !config.force()) {
            throw new IllegalArgumentException("out: " + out + " already holds a prepared dataset; pass --force to "
                    + "replace it");
        }
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.toList()) {
                if (OUTPUT_FILE.matcher(f.getFileName().toString()).matches()) {
                    Files.delete(f);
                }
            }
        }
    }

    private PrepareReport report(List<SourceStats> stats, NearDedup.Params params, NearDedup near,
                                 DedupEvaluation.Result eval, double seconds) {
        long docs = 0;
        long bytes = 0;
        long exactDup = 0;
        long nearDup = 0;
        long written = 0;
        long trainTokens = 0;
        long valTokens = 0;
        EnumMap<BadInput, Long> bad = new EnumMap<>(BadInput.class);
        List<PrepareReport.Source> sources = new ArrayList<>();
        for (SourceStats s : stats) {
            docs += s.documentsIn;
            bytes += s.bytesIn;
            exactDup += s.exactDuplicates;
            nearDup += s.nearDuplicates;
            written += s.documentsWritten;
            trainTokens += s.trainTokens;
            valTokens += s.valTokens;
            s.bad.forEach((k, v) -> bad.merge(k, v, Long::sum));
            sources.add(s.toReport());
        }
        PrepareReport.Dedup dedup = new PrepareReport.Dedup(params.threshold(), params.numPerm(),
                params.shingleWords(), params.bands(), params.rows(), near.indexBytes(), near.spilledBytes(),
                eval.documents(),
                eval.pairs(), eval.truePositives(), eval.falsePositives(), eval.falseNegatives(), eval.precision(),
                eval.recall());
        return new PrepareReport(config.out().toString(), seconds, docs, bytes, SourceStats.byName(bad), exactDup,
                nearDup, written, trainTokens, valTokens, dedup, sources);
    }
}
