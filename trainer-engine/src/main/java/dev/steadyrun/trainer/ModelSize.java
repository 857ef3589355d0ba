package dev.steadyrun.trainer;

import java.util.Arrays;
import java.util.Locale;

/**
 * Named sizes: every row of the OPT paper's Table 1, metaseq's 760M, and two small sizes for demos and tests.
 * These are the size-dependent defaults; everything else defaults in {@link TrainConfig}.
 * OPT's smaller models warm up over 375M tokens, 175B over 2000 steps; all decay to 10% over 300B tokens.
 */
public enum ModelSize {
    // name, layers, heads, dModel, seqLen, peak lr, batch tokens, micro-batch, warm-up steps, warm-up tokens, decay tokens
    TINY("tiny", 2, 4, 128, 128, 1.0e-3, 1024, 8, 10, 0, 20_000_000L),
    DEMO("demo", 4, 8, 256, 256, 6.0e-4, 8192, 8, 50, 0, 100_000_000L),
    M125("125M", 12, 12, 768, 2048, 6.0e-4, 512 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    M350("350M", 24, 16, 1024, 2048, 3.0e-4, 512 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    M760("760M", 24, 16, 1536, 2048, 2.5e-4, 512 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B1_3("1.3B", 24, 32, 2048, 2048, 2.0e-4, 1024 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B2_7("2.7B", 32, 32, 2560, 2048, 1.6e-4, 1024 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B6_7("6.7B", 32, 32, 4096, 2048, 1.2e-4, 2048 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B13("13B", 40, 40, 5120, 2048, 1.0e-4, 4096 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B30("30B", 48, 56, 7168, 2048, 1.0e-4, 4096 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B66("66B", 64, 72, 9216, 2048, 0.8e-4, 2048 * 1024, 1, 0, 375_000_000L, 300_000_000_000L),
    B175("175B", 96, 96, 12288, 2048, 1.2e-4, 2048 * 1024, 1, 2000, 0, 300_000_000_000L);

    /** GPT-2 byte-level BPE (50,257 tokens) padded to 50,272 rows as in metaseq. */
    public static final int OPT_VOCAB = 50_272;

    public final String label;
    public final int layers;
    public final int heads;
    public final int dModel;
    public final int seqLen;
    public final double lr;
    public final long batchTokens;
    public final int microBatch;
    public final long warmupSteps;
    public final long warmupTokens;
    public final long decayTokens;

    ModelSize(String label, int layers, int heads, int dModel, int seqLen, double lr, long batchTokens, int microBatch,
              long warmupSteps, long warmupTokens, long decayTokens) {
        this.label = label;
        this.layers = layers;
        this.heads = heads;
        this.dModel = dModel;
        this.seqLen = seqLen;
        this.lr = lr;
        this.batchTokens = batchTokens;
        this.microBatch = microBatch;
        this.warmupSteps = warmupSteps;
        this.warmupTokens = warmupTokens;
        this.decayTokens = decayTokens;
    }

    public ModelConfig config() {
        return new ModelConfig(layers, heads, dModel, seqLen, OPT_VOCAB);
    }

    public static ModelSize byLabel(String label) {
        String wanted = label.trim().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(s -> s.label.toLowerCase(Locale.ROOT).equals(wanted)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("model must be one of "
                        + Arrays.stream(values()).map(s -> s.label).toList() + ", was '" + label + "'"));
    }
}
