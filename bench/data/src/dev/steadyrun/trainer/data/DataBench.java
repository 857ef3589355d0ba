package dev.steadyrun.trainer.data;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.BufferedReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * Data pipeline benchmark (run by bench/data.sh). Lives in the pipeline's package to reach its internals.
 *
 * <pre>
 *   micro DIR          tokenization and dedup throughput per core on the Europarl sample, and near-dup
 *                      precision/recall against exact Jaccard over several hash seeds
 *   scale K DIR        the whole prepare pipeline over K distinct copies of Europarl (copy k has its letters
 *                      rotated by k, so no copy deduplicates against another): throughput, index size, heap, RSS
 * </pre>
 */
public final class DataBench {

    /** This thread's CPU seconds: the machine may be shared, and "per core" means per CPU-second of work. */
    private static double cpu() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() / 1e9;
    }

    /**
     * Live heap while the pipeline runs: once a second a full collection, then the heap in use. Sampled, so a
     * peak between samples can be missed; the trend over corpus sizes is what this shows.
     */
    private static final class HeapWatch extends Thread {
        volatile long maxLive;

        HeapWatch() {
            setDaemon(true);
        }

        @Override
        public void run() {
            while (true) {
                System.gc();
                maxLive = Math.max(maxLive, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        switch (args[0]) {
            case "micro" -> micro(Path.of(args[1]));
            case "scale" -> scale(Integer.parseInt(args[1]), Path.of(args[2]));
            default -> throw new IllegalArgumentException("micro DIR | scale K DIR");
        }
    }

    private static void micro(Path dir) throws IOException {
        List<String> docs = DedupSample.europarl(dir, Integer.MAX_VALUE);
        long bytes = 0;
        for (String d : docs) {
            bytes += d.getBytes(StandardCharsets.UTF_8).length;
        }
        double mb = bytes / 1e6;
        System.out.printf("corpus: %d normalized Europarl documents, %.1f MB UTF-8%n", docs.size(), mb);

        Gpt2Tokenizer tok = new Gpt2Tokenizer();
        long tokens = 0;
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = cpu();
            tokens = 0;
            for (String d : docs) {
                tokens += tok.encode(d).length;
            }
            best = Math.min(best, cpu() - t0);
        }
        System.out.printf("tokenize (GPT-2 BPE, 1 thread): %.1f MB/s per core, %.2f M tokens/s, %.2f bytes/token "
                + "(CPU time, best of 3)%n", mb / best, tokens / best / 1e6, (double) bytes / tokens);

        for (int numPerm : new int[] {128, 256}) {
            best = Double.MAX_VALUE;
            long nearDups = 0;
            long indexBytes = 0;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = cpu();
                LongSet exact = new LongSet();
                NearDedup near = new NearDedup(NearDedup.Params.tuned(0.95, numPerm, 5), rep);
                nearDups = 0;
                for (String d : docs) {
                    if (exact.add(Hashing.hash(d)) && near.offer(d) >= 0) {
                        nearDups++;
                    }
                }
                best = Math.min(best, cpu() - t0);
                indexBytes = near.indexBytes() + exact.bytes();
            }
            System.out.printf("dedup (exact hash + MinHash LSH + exact Jaccard check, %d values, 1 thread): %.1f MB/s per core, "
                    + "%d near duplicates, index %.1f MB for %d documents (CPU time, best of 3)%n", numPerm, mb / best,
                    nearDups, indexBytes / 1e6, docs.size());
        }

        List<String> real = docs.subList(0, 600);
        for (int numPerm : new int[] {128, 256}) {
            double p = 0;
            double r = 0;
            double pMin = 1;
            double rMin = 1;
            long tp = 0;
            long fp = 0;
            long fn = 0;
            long[] bandDocs = new long[4];
            long[] bandRemoved = new long[4];
            List<DedupEvaluation.Band> bands = List.of();
            int seeds = 5;
            for (int seed = 1; seed <= seeds; seed++) {
                List<String> sample = DedupSample.withNearCopies(real, 0.5, 0.03, seed);
                DedupEvaluation.Result res = DedupEvaluation.evaluate(sample,
                        NearDedup.Params.tuned(0.95, numPerm, 5), seed);
                p += res.precision();
                r += res.recall();
                pMin = Math.min(pMin, res.precision());
                rMin = Math.min(rMin, res.recall());
                tp += res.truePositives();
                fp += res.falsePositives();
                fn += res.falseNegatives();
                bands = res.bands();
                for (int b = 0; b < bands.size(); b++) {
                    bandDocs[b] += bands.get(b).documents();
                    bandRemoved[b] += bands.get(b).removed();
                }
            }
            System.out.printf("near-dup vs exact Jaccard >= 0.95, %d values, 600 Europarl docs + near copies of half "
                    + "(0-3%% of words replaced), %d seeds: precision %.3f (min %.3f), recall %.3f (min %.3f); "
                    + "totals TP %d FP %d FN %d%n", numPerm, seeds, p / seeds, pMin, r / seeds, rMin, tp, fp, fn);
            for (int b = 0; b < bands.size(); b++) {
                System.out.println("  by best exact Jaccard with an earlier kept document, all seeds: "
                        + new DedupEvaluation.Band(bands.get(b).from(), bands.get(b).to(), bandDocs[b], bandRemoved[b]));
            }
        }
    }

    private static void scale(int copies, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path source = Europarl.extractTo(dir);
        Path corpus = dir.resolve("europarl-x" + copies + ".lines");
        try (BufferedWriter w = Files.newBufferedWriter(corpus, StandardCharsets.UTF_8)) {
            for (int k = 0; k < copies; k++) {
                try (InputStream in = new GZIPInputStream(Files.newInputStream(source));
                     BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        w.write(rotate(line, k));
                        w.write('\n');
                    }
                }
            }
        }
        Path out = dir.resolve("out-x" + copies);
        PrepareConfig config = PrepareConfig.defaults(
                        List.of(new SourceSpec("europarl", corpus, 1, SourceFormat.EUROPARL, null, true)), out)
                .withForce(true).withDedupSample(0).withThreads(1);
        HeapWatch watch = new HeapWatch();
        watch.start();
        long t0 = System.nanoTime();
        double c0 = cpu();
        PrepareReport report = new Prepare(config, Clock.systemUTC(), null).run();
        double c = cpu() - c0;
        double s = (System.nanoTime() - t0) / 1e9;
        double mb = report.bytesIn() / 1e6;
        System.out.printf("prepare %dx Europarl (1 thread): %,d docs, %.1f MB, %.1f s wall / %.1f s CPU = %.2f MB/s "
                        + "per core (%.2f MB/s wall), %,d tokens, %d exact + %d near dups; dedup index %.1f MB; "
                        + "max live heap %.1f MB; peak RSS %s%n", copies, report.documentsIn(), mb, s, c, mb / c,
                mb / s, report.trainTokens() + report.valTokens(), report.exactDuplicates(),
                report.nearDuplicates(), report.dedup().indexBytes() / 1e6, watch.maxLive / 1e6, peakRss());
    }

    /** Rotates ASCII and Latin-1 letters by {@code k}: copy k of a document shares no word with copy 0. */
    private static String rotate(String line, int k) {
        if (k == 0) {
            return line;
        }
        StringBuilder b = new StringBuilder(line.length());
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c >= 'a' && c <= 'z') {
                c = (char) ('a' + (c - 'a' + k) % 26);
            } else if (c >= 'A' && c <= 'Z') {
                c = (char) ('A' + (c - 'A' + k) % 26);
            }
            b.append(c);
        }
        return b.toString();
    }

    private static String peakRss() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmHWM:")) {
                return l.substring(6).trim();
            }
        }
        return "?";
    }
}
