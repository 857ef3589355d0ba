package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The back half of prepare: applies a kept document's weight, picks its split, tokenizes it and appends it to the
 * split's shards. Documents are tokenized in batches on {@code threads} threads and written in arrival order, so
 * the output is the same for any thread count; memory is bounded by one batch.
 */
final class TokenizingWriter implements AutoCloseable {

    private static final int BATCH_DOCS = 256;

    private record Kept(String text, int copies, boolean val, SourceStats stats) {
    }

    private final long seed;
    private final double valFraction;
    private final Gpt2Tokenizer tokenizer = new Gpt2Tokenizer();
    private final ExecutorService pool;
    private final ShardWriter train;
    private final ShardWriter val;
    private final List<Kept> batch = new ArrayList<>();

    TokenizingWriter(Path out, PrepareConfig config) {
        this.seed = config.seed();
        this.valFraction = config.valFraction();
        this.train = new ShardWriter(out, "train", config.shardTokens());
        this.val = new ShardWriter(out, "val", config.shardTokens());
        this.pool = config.threads() == 1 ? null : Executors.newFixedThreadPool(config.threads(), r -> {
            Thread t = new Thread(r, "prepare-tokenizer");
            t.setDaemon(true);
            return t;
        });
    }

    /** Queues a kept document with content hash {@code hash}; written {@code weight} times in expectation. */
    void add(String text, long hash, double weight, SourceStats stats) throws IOException {
        stats.documentsKept++;
        double whole = Math.floor(weight);
        int copies = (int) whole + (Hashing.unit(Hashing.mix64(hash ^ 0x5DEECE66DL ^ seed)) < weight - whole ? 1 : 0);
        if (copies == 0) {
            stats.sampledOut++;
            return;
        }
        boolean toVal = Hashing.unit(Hashing.mix64(hash + seed)) < valFraction;
        batch.add(new Kept(text, copies, toVal, stats));
        if (batch.size() == BATCH_DOCS) {
            flush();
        }
    }

    /** Writes what is queued and closes the last shards; returns the two splits for the manifest. */
    Map<String, Manifest.Split> finish() throws IOException {
        flush();
        return Map.of("train", train.finish(), "val", val.finish());
    }

    private void flush() throws IOException {
        List<Future<int[]>> futures = new ArrayList<>();
        if (pool != null) {
            for (Kept k : batch) {
                futures.add(pool.submit(() -> tokenizer.encode(k.text())));
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            Kept k = batch.get(i);
            int[] tokens = pool == null ? tokenizer.encode(k.text()) : await(futures.get(i));
            for (int c = 0; c < k.copies(); c++) {
                (k.val() ? val : train).writeDocument(tokens);
                k.stats().documentsWritten++;
                if (k.val()) {
                    k.stats().valTokens += tokens.length + 1;
                } else {
                    k.stats().trainTokens += tokens.length + 1;
                }
            }
        }
        batch.clear();
    }

    private static int[] await(Future<int[]> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while tokenizing");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("tokenizer failed", e.getCause());
        }
    }

    @Override
    public void close() throws IOException {
        if (pool != null) {
            pool.shutdownNow();
        }
        try (train; val) {
            // closes both shard writers, even if one fails
        }
    }
}
