package dev.steadyrun.trainer;

/**
 * The shape of an OPT decoder: pre-LayerNorm blocks, a final LayerNorm, ReLU feed-forward of width 4·d, learned
 * positional embeddings (one row per position, {@code seqLen} rows) and a token embedding tied to the output head.
 */
public record ModelConfig(int layers, int heads, int dModel, int seqLen, int vocab) {

    public ModelConfig {
        if (layers < 1) throw new IllegalArgumentException("layers must be ≥ 1, was " + layers);
        if (heads < 1) throw new IllegalArgumentException("heads must be ≥ 1, was " + heads);
        if (dModel < 1 || dModel % heads != 0) {
            throw new IllegalArgumentException("dModel must be a positive multiple of heads (" + heads + "), was " + dModel);
        }
        if (seqLen < 1) throw new IllegalArgumentException("seqLen must be ≥ 1, was " + seqLen);
        if (vocab < 2) throw new IllegalArgumentException("vocab must be ≥ 2, was " + vocab);
    }

    public int headDim() {
        return dModel / heads;
    }

    public int ffnDim() {
        return 4 * dModel;
    }

    /** Parameters of one decoder block: q, k, v, out projections with biases, two FFN layers, two LayerNorms. */
    public long parametersPerLayer() {
        long d = dModel;
        long attention = 4 * (d * d + d);
        long ffn = d * 4 * d + 4 * d + 4 * d * d + d;
        long layerNorms = 2 * 2 * d;
        return attention + ffn + layerNorms;
    }

    /** All trainable parameters; the output head is the token embedding (tied), so it adds nothing. */
    public long parameterCount() {
        long d = dModel;
        return (long) vocab * d + (long) seqLen * d + layers * parametersPerLayer() + 2 * d;
    }

    /**
     * Training FLOPs per token for the model FLOP/s figure (PaLM's formula): 6 per matmul parameter (blocks and the
     * tied head; embedding look-ups are not matmuls) plus 12·L·T·d for attention scores and values.
     */
    public double trainingFlopsPerToken() {
        double d = dModel;
        double matmulParams = layers * (12 * d * d) + (double) vocab * d;
        return 6 * matmulParams + 12.0 * layers * seqLen * d;
    }
}
