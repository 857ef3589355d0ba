package dev.steadyrun.orchestrator.run;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;

/**
 * The named model sizes with their size-dependent hyper-parameters: OPT paper Table 1 (760M from metaseq), batch
 * sizes in tokens with the paper's "0.5M" = 2^19 = 256 sequences of 2048. Smaller OPT models warm up over 375M
 * tokens, 175B over 2000 steps; all decay to 10% over 300B tokens.
 *
 * <p>{@code tiny} and {@code demo} are Steadyrun's CPU-sized models for trying the system out, not from the paper.
 * The values match the trainer-engine's {@code ModelSize}, which is the same table on the trainer's side.
 */
public enum ModelPreset {
    // label, layers, heads, dModel, seqLen, peak lr, batch tokens, micro-batch, warm-up steps, warm-up tokens, decay tokens
    TINY("tiny", 2, 4, 128, 128, 1.0e-3, 1024, 8, 10, 0, 20_000_000L, false),
    DEMO("demo", 4, 8, 256, 256, 6.0e-4, 8192, 8, 50, 0, 100_000_000L, false),
    OPT_125M("125M", 12, 12, 768, 2048, 6.0e-4, 524_288, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_350M("350M", 24, 16, 1024, 2048, 3.0e-4, 524_288, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_760M("760M", 24, 16, 1536, 2048, 2.5e-4, 524_288, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_1_3B("1.3B", 24, 32, 2048, 2048, 2.0e-4, 1_048_576, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_2_7B("2.7B", 32, 32, 2560, 2048, 1.6e-4, 1_048_576, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_6_7B("6.7B", 32, 32, 4096, 2048, 1.2e-4, 2_097_152, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_13B("13B", 40, 40, 5120, 2048, 1.0e-4, 4_194_304, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_30B("30B", 48, 56, 7168, 2048, 1.0e-4, 4_194_304, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_66B("66B", 64, 72, 9216, 2048, 0.8e-4, 2_097_152, 1, 0, Paper.WARMUP, Paper.DECAY, true),
    OPT_175B("175B", 96, 96, 12288, 2048, 1.2e-4, 2_097_152, 1, 2000, 0, Paper.DECAY, true);

    /** OPT's embedding rows: the 50,257 GPT-2 BPE tokens padded. */
    public static final int OPT_VOCAB = 50272;

    /** Constants the enum's own arguments use (an enum cannot refer to its static fields there). */
    private static final class Paper {
        static final long WARMUP = 375_000_000L;
        static final long DECAY = 300_000_000_000L;
    }

    private final String label;
    private final int layers;
    private final int heads;
    private final int dModel;
    private final int seqLen;
    private final double peakLr;
    private final long batchTokens;
    private final int microBatch;
    private final long warmupSteps;
    private final long warmupTokens;
    private final long decayTokens;
    private final boolean fromPaper;

    ModelPreset(String label, int layers, int heads, int dModel, int seqLen, double peakLr, long batchTokens,
                int microBatch, long warmupSteps, long warmupTokens, long decayTokens, boolean fromPaper) {
        this.label = label;
        this.layers = layers;
        this.heads = heads;
        this.dModel = dModel;
        this.seqLen = seqLen;
        this.peakLr = peakLr;
        this.batchTokens = batchTokens;
        this.microBatch = microBatch;
        this.warmupSteps = warmupSteps;
        this.warmupTokens = warmupTokens;
        this.decayTokens = decayTokens;
        this.fromPaper = fromPaper;
    }

    public String label() {
        return label;
    }

    public int layers() {
        return layers;
    }

    public int heads() {
        return heads;
    }

    public int dModel() {
        return dModel;
    }

    public int seqLen() {
        return seqLen;
    }

    public double peakLr() {
        return peakLr;
    }

    public long batchTokens() {
        return batchTokens;
    }

    /** Sequences per micro-batch: 1 for the paper sizes, which barely fit one sequence in a CPU's memory. */
    public int microBatch() {
        return microBatch;
    }

    /** Warm-up in optimizer steps; 0 means warm-up in tokens ({@link #warmupTokens()}). */
    public long warmupSteps() {
        return warmupSteps;
    }

    public long warmupTokens() {
        return warmupTokens;
    }

    public long decayTokens() {
        return decayTokens;
    }

    public boolean fromPaper() {
        return fromPaper;
    }

    /** OPT trained in mixed precision; on a CPU the small models train in FP32. */
    public String precision() {
        return fromPaper ? "fp16-emulated" : "fp32";
    }

    public static Optional<ModelPreset> byLabel(String label) {
        return Arrays.stream(values()).filter(p -> p.label.equalsIgnoreCase(label)).findFirst();
    }

    /** The preset whose width is closest, used for the hyper-parameter defaults of explicit dimensions. */
    public static ModelPreset closestTo(int dModel) {
        return Arrays.stream(values())
                .min(Comparator.comparingInt(p -> Math.abs(p.dModel - dModel)))
                .orElseThrow();
    }

    public static String labels() {
        return String.join(", ", Arrays.stream(values()).map(ModelPreset::label).toList());
    }
}
