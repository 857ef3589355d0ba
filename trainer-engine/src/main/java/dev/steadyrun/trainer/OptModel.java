package dev.steadyrun.trainer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The OPT decoder, in one file: parameters, initialization, the SameDiff graph of the blocks, and the embedding
 * look-up and tied-head cross-entropy done in plain ND4J.
 *
 * <p>Why the split: in DL4J 1.0.0-M2.1 the gradients of {@code gather}, {@code sparseSoftmaxCrossEntropy},
 * {@code dropout} and {@code logSumExp} are broken, and the vocabulary loss dominates small models. So the token and
 * position embeddings are looked up in Java and fed in as the variable {@code x0} (its gradient is scattered back
 * into the embedding gradients in a deterministic loop), and the head (logits = h·Wteᵀ, softmax, loss and
 * dLoss/dlogits) runs as preallocated GEMMs plus one in-place softmax. The blocks' backward pass is driven by the
 * surrogate loss {@code sum(h ⊙ G)}, where {@code G = dLoss/dh} is a placeholder: its gradient with respect to every
 * block parameter is exactly the chain rule through h. Dropout is a multiplication by a Bernoulli mask generated in
 * Java from a seed, which makes it deterministic and differentiable.
 */
public final class OptModel {

    /** OPT/Megatron initialization: normal(0, 0.006) for every weight matrix, embeddings included. */
    public static final double INIT_STD = 0.006;
    private static final double MASKED = -1e9;
    private static final double LN_EPS = 1e-5;

    private final ModelConfig cfg;
    private final DataType dtype;
    /** Master weights, in a fixed order: the optimizer updates these. */
    private final Map<String, INDArray> params;
    /** Weights the forward pass reads: the master arrays themselves, or FP16-rounded copies (see {@link #roundForwardWeights}). */
    private final Map<String, INDArray> forward;
    private final Map<String, Graph> graphs = new HashMap<>();
    private INDArray logitsBuffer;

    private OptModel(ModelConfig cfg, DataType dtype, Map<String, INDArray> params, boolean fp16Forward) {
        this.cfg = cfg;
        this.dtype = dtype;
        this.params = params;
        if (fp16Forward) {
            this.forward = new LinkedHashMap<>();
            params.forEach((n, p) -> forward.put(n, p.dup()));
            roundForwardWeights();
        } else {
            this.forward = params;
        }
    }

    /** Every parameter's shape, in the fixed order used by gradients, optimizer state and checkpoints. */
    public static Map<String, long[]> shapes(ModelConfig cfg) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long d = cfg.dModel();
        s.put("wte", new long[]{cfg.vocab(), d});
        s.put("wpe", new long[]{cfg.seqLen(), d});
        for (int i = 0; i < cfg.layers(); i++) {
            String b = "h" + i + ".";
            s.put(b + "ln1.g", new long[]{d});
            s.put(b + "ln1.b", new long[]{d});
            for (String m : List.of("q", "k", "v", "o")) {
                s.put(b + "attn.w" + m, new long[]{d, d});
                s.put(b + "attn.b" + m, new long[]{d});
            }
            s.put(b + "ln2.g", new long[]{d});
            s.put(b + "ln2.b", new long[]{d});
            s.put(b + "mlp.w1", new long[]{d, 4 * d});
            s.put(b + "mlp.b1", new long[]{4 * d});
            s.put(b + "mlp.w2", new long[]{4 * d, d});
            s.put(b + "mlp.b2", new long[]{d});
        }
        s.put("lnf.g", new long[]{d});
        s.put("lnf.b", new long[]{d});
        return s;
    }

    /**
     * A freshly initialized model: normal(0, 0.006) for every weight matrix, the residual branches' output
     * projections scaled by 1/√(2L), biases and LayerNorm shifts 0, LayerNorm gains 1.
     */
    public static OptModel initialize(ModelConfig cfg, DataType dtype, long seed, boolean fp16Forward) {
        Nd4j.getRandom().setSeed(seed);
        double residualStd = INIT_STD / Math.sqrt(2.0 * cfg.layers());
        Map<String, INDArray> p = new LinkedHashMap<>();
        shapes(cfg).forEach((name, shape) -> {
            INDArray a;
            if (shape.length == 2) {
                a = Nd4j.randn(dtype, shape).muli(isResidualProjection(name) ? residualStd : INIT_STD);
            } else if (name.endsWith(".g")) {
                a = Nd4j.ones(dtype, shape);
            } else {
                a = Nd4j.zeros(dtype, shape);
            }
            p.put(name, a);
        });
        return new OptModel(cfg, dtype, p, fp16Forward);
    }

    /** A model over existing weights (a restored checkpoint); the arrays are used as they are, not copied. */
    public static OptModel fromParams(ModelConfig cfg, DataType dtype, Map<String, INDArray> loaded, boolean fp16Forward) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        shapes(cfg).forEach((name, shape) -> {
            INDArray a = loaded.get(name);
            if (a == null) {
                throw new IllegalArgumentException("checkpoint lacks parameter " + name);
            }
            if (!Arrays.equals(a.shape(), shape)) {
                throw new IllegalArgumentException("parameter " + name + " has shape " + Arrays.toString(a.shape())
                        + " but the model config needs " + Arrays.toString(shape));
            }
            p.put(name, a.dataType() == dtype ? a : a.castTo(dtype));
        });
        return new OptModel(cfg, dtype, p, fp16Forward);
    }

    /** Master parameters by name, in a fixed order. */
    public Map<String, INDArray> params() {
        return Collections.unmodifiableMap(params);
    }

    /** Weight decay applies to the 2-D weight matrices (embeddings included), not to biases or LayerNorm. */
    public static boolean isDecayed(INDArray param) {
        return param.rank() == 2;
    }

    /** Names of the weights that are the output projection of a residual branch (init scaled by 1/√(2L)). */
    public static boolean isResidualProjection(String name) {
        return name.endsWith("attn.wo") || name.endsWith("mlp.w2");
    }

    public long parameterCount() {
        return params.values().stream().mapToLong(INDArray::length).sum();
    }

    /** FP16 emulation: the forward pass reads the master weights rounded to FP16 precision (kept in FP32 arrays). */
    public void roundForwardWeights() {
        if (forward == params) {
            return;
        }
        params.forEach((n, p) -> forward.get(n).assign(p.castTo(DataType.HALF).castTo(dtype)));
    }

    /** Zeroed gradient accumulators, one per parameter. */
    public Map<String, INDArray> zeroGradients() {
        Map<String, INDArray> g = new LinkedHashMap<>();
        params.forEach((n, p) -> g.put(n, Nd4j.zeros(dtype, p.shape())));
        return g;
    }

    /** What one forward (and maybe backward) pass over a micro-batch produced. */
    public record Pass(double lossSum, int tokens, double[] activationRms) {
    }

    /**
     * Forward and backward over one micro-batch, adding into {@code grads} the gradient of
     * {@code gradScale · (sum of the token losses)}: pass {@code lossScale / tokensPerStep} to get the scaled
     * gradient of the step's mean loss.
     *
     * @param rows        micro-batch rows of seqLen+1 token ids (inputs and shifted targets)
     * @param dropout     dropout probability (0: none)
     * @param dropoutSeed seeds this micro-batch's dropout masks, so a resumed run draws the same masks
     */
    public Pass forwardBackward(int[][] rows, double dropout, long dropoutSeed, double gradScale,
                                Map<String, INDArray> grads) {
        Forward f = forward(rows, dropout, dropoutSeed);
        INDArray dHidden = Nd4j.createUninitialized(dtype, f.hidden().shape());
        double loss = crossEntropy(f.hidden(), f.targets(), gradScale, dHidden, grads.get("wte"));
        Map<String, INDArray> ph = f.placeholders();
        ph.put("dhidden", dHidden);
        Graph g = f.graph();
        Map<String, INDArray> bodyGrads = g.sd.calculateGradients(ph, g.gradientNames);
        for (String n : g.gradientNames) {
            if (!n.equals("x0")) {
                grads.get(n).addi(bodyGrads.get(n));
            }
        }
        scatterEmbeddingGradient(bodyGrads.get("x0"), f.inputs(), rows.length, g.len, grads.get("wte"), grads.get("wpe"));
        return new Pass(loss, f.inputs().length, f.rms());
    }

    /** Forward only, no dropout: the summed token loss of the rows (evaluation). */
    public Pass loss(int[][] rows) {
        return loss(rows, 0, 0);
    }

    /** Forward only, with the dropout masks {@link #forwardBackward} would draw for this seed. */
    public Pass loss(int[][] rows, double dropout, long dropoutSeed) {
        Forward f = forward(rows, dropout, dropoutSeed);
        double loss = crossEntropy(f.hidden(), f.targets(), 0, null, null);
        return new Pass(loss, f.inputs().length, f.rms());
    }

    private record Forward(Graph graph, Map<String, INDArray> placeholders, int[] inputs, int[] targets,
                           INDArray hidden, double[] rms) {
    }

    /** The blocks' forward pass: the final LayerNorm's output h and each block's output RMS. */
    private Forward forward(int[][] rows, double dropout, long dropoutSeed) {
        int batch = rows.length;
        int len = rows[0].length - 1;
        Graph g = graph(batch, len, dropout > 0);
        Map<String, INDArray> ph = g.placeholders(dropout, dropoutSeed);
        int[] inputs = inputs(rows, len);
        g.sd.getArrForVarName("x0").assign(embed(inputs, batch, len));
        List<String> outs = new ArrayList<>(g.blockOutputs);
        outs.add(g.hidden);
        Map<String, INDArray> fwd = g.sd.output(ph, outs);
        // dup: the session may reuse its output arrays in the next execution
        return new Forward(g, ph, inputs, targets(rows, len), fwd.get(g.hidden).dup(), rms(fwd, g.blockOutputs));
    }

    /** Logits of the next token after {@code context} (at most seqLen ids; later positions are padding, and causal). */
    public double[] nextTokenLogits(int[] context) {
        int len = cfg.seqLen();
        int n = Math.min(context.length, len);
        int[] window = new int[len];
        System.arraycopy(context, context.length - n, window, 0, n);
        Graph g = graph(1, len, false);
        g.sd.getArrForVarName("x0").assign(embed(window, 1, len));
        INDArray h = g.sd.output(new HashMap<>(), g.hidden).get(g.hidden).getRow(n - 1).reshape(1, cfg.dModel());
        INDArray logits = Nd4j.gemm(h, forward.get("wte"), false, true);
        return logits.toDoubleVector();
    }

    private static int[] inputs(int[][] rows, int len) {
        int[] ids = new int[rows.length * len];
        for (int b = 0; b < rows.length; b++) {
            System.arraycopy(rows[b], 0, ids, b * len, len);
        }
        return ids;
    }

    private static int[] targets(int[][] rows, int len) {
        int[] ids = new int[rows.length * len];
        for (int b = 0; b < rows.length; b++) {
            System.arraycopy(rows[b], 1, ids, b * len, len);
        }
        return ids;
    }

    private void checkIds(int[] ids) {
        for (int id : ids) {
            if (id < 0 || id >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
        }
    }

    /** x0 = wte[token] + wpe[position], rows in (batch, position) order. No dropout on embeddings (OPT). */
    private INDArray embed(int[] ids, int batch, int len) {
        checkIds(ids);
        INDArray x = Nd4j.pullRows(forward.get("wte"), 1, ids);
        INDArray pos = forward.get("wpe").get(NDArrayIndex.interval(0, len), NDArrayIndex.all());
        for (int b = 0; b < batch; b++) {
            x.get(NDArrayIndex.interval((long) b * len, (long) (b + 1) * len), NDArrayIndex.all()).addi(pos);
        }
        return x;
    }

    /** Adds dx0 into the token rows (one row at a time, in order: repeated ids accumulate deterministically). */
    private static void scatterEmbeddingGradient(INDArray dx0, int[] ids, int batch, int len, INDArray dwte, INDArray dwpe) {
        for (int i = 0; i < ids.length; i++) {
            dwte.getRow(ids[i]).addi(dx0.getRow(i));
        }
        INDArray pos = dwpe.get(NDArrayIndex.interval(0, len), NDArrayIndex.all());
        for (int b = 0; b < batch; b++) {
            pos.addi(dx0.get(NDArrayIndex.interval((long) b * len, (long) (b + 1) * len), NDArrayIndex.all()));
        }
    }

    /**
     * Tied head and cross-entropy: logits = h·Wteᵀ, softmax in place, summed loss. When {@code dHidden} is given,
     * writes gradScale·dLoss/dh into it and adds gradScale·dLoss/dWte into {@code dwte}.
     * The per-token loss is computed as (max − logit_target) − log(p_max), which never underflows. The logits are
     * [tokens × 50272] (200 MB at T=1024), so besides the three GEMMs they are traversed only twice: one argmax and
     * the softmax; everything else reads single elements.
     */
    private double crossEntropy(INDArray hidden, int[] targets, double gradScale, INDArray dHidden, INDArray dwte) {
        checkIds(targets);
        int n = targets.length;
        INDArray wte = forward.get("wte");
        if (logitsBuffer == null || logitsBuffer.rows() != n) {
            logitsBuffer = null;   // let the old one be collected before the new allocation
            logitsBuffer = Nd4j.createUninitialized(dtype, n, cfg.vocab());
        }
        INDArray logits = logitsBuffer;
        Nd4j.gemm(hidden, wte, logits, false, true, 1.0, 0.0);
        long[] argMax = logits.argMax(1).toLongVector();
        double loss = 0;
        for (int i = 0; i < n; i++) {
            loss += logits.getDouble(i, argMax[i]) - logits.getDouble(i, targets[i]);
        }
        Nd4j.exec(new SoftMax(logits, logits, 1));
        for (int i = 0; i < n; i++) {
            loss -= Math.log(logits.getDouble(i, argMax[i]));
        }
        if (dHidden != null) {
            for (int i = 0; i < n; i++) {
                logits.putScalar(i, targets[i], logits.getDouble(i, targets[i]) - 1.0);
            }
            // gradScale rides on the GEMMs' alpha instead of a pass over the logits
            Nd4j.gemm(logits, wte, dHidden, false, false, gradScale, 0.0);
            Nd4j.gemm(logits, hidden, dwte, true, false, gradScale, 1.0);
        }
        return loss;
    }

    private static double[] rms(Map<String, INDArray> outputs, List<String> names) {
        double[] r = new double[names.size()];
        for (int i = 0; i < r.length; i++) {
            INDArray a = outputs.get(names.get(i));
            r[i] = a.norm2Number().doubleValue() / Math.sqrt(a.length());
        }
        return r;
    }

    private Graph graph(int batch, int len, boolean dropout) {
        if (len > cfg.seqLen()) {
            throw new IllegalArgumentException("sequence of " + len + " tokens exceeds seqLen " + cfg.seqLen());
        }
        return graphs.computeIfAbsent(batch + "x" + len + (dropout ? "d" : ""), k -> new Graph(batch, len, dropout));
    }

    /** The decoder blocks for one (batch, length) shape, over the forward weights (shared, not copied). */
    private final class Graph {
        final SameDiff sd = SameDiff.create();
        final int batch;
        final int len;
        final List<String> blockOutputs = new ArrayList<>();
        final List<String> masks = new ArrayList<>();
        final List<String> gradientNames = new ArrayList<>();
        final String hidden;

        Graph(int batch, int len, boolean dropout) {
            this.batch = batch;
            this.len = len;
            int d = cfg.dModel();
            int heads = cfg.heads();
            int hd = cfg.headDim();
            long n = (long) batch * len;
            Map<String, SDVariable> w = new HashMap<>();
            for (Map.Entry<String, INDArray> e : forward.entrySet()) {
                if (!e.getKey().equals("wte") && !e.getKey().equals("wpe")) {
                    SDVariable v = sd.var(e.getKey(), e.getValue());
                    sd.associateArrayWithVariable(e.getValue(), v);
                    w.put(e.getKey(), v);
                    gradientNames.add(e.getKey());
                }
            }
            SDVariable x = sd.var("x0", Nd4j.zeros(dtype, n, d));
            gradientNames.add("x0");
            INDArray causal = Nd4j.zeros(dtype, len, len);
            for (int i = 0; i < len; i++) {
                for (int j = i + 1; j < len; j++) {
                    causal.putScalar(i, j, MASKED);
                }
            }
            SDVariable mask = sd.constant("causal", causal);
            for (int i = 0; i < cfg.layers(); i++) {
                String b = "h" + i + ".";
                SDVariable h = layerNorm(x, w.get(b + "ln1.g"), w.get(b + "ln1.b"));
                SDVariable q = heads(linear(h, w, b + "attn.wq", b + "attn.bq"), batch, len, heads, hd);
                SDVariable k = heads(linear(h, w, b + "attn.wk", b + "attn.bk"), batch, len, heads, hd);
                SDVariable v = heads(linear(h, w, b + "attn.wv", b + "attn.bv"), batch, len, heads, hd);
                // a plain scalar, not a constant variable: its backward pass then skips a reduction over all the scores
                SDVariable scores = sd.mmul(q, k, false, true, false).mul(1.0 / Math.sqrt(hd)).add(mask);
                SDVariable probs = sd.nn().softmax(scores, 3);
                SDVariable att = sd.mmul(probs, v).permute(0, 2, 1, 3).reshape(n, d);
                SDVariable o = linear(att, w, b + "attn.wo", b + "attn.bo");
                x = x.add(dropout ? o.mul(maskPlaceholder("drop" + i + ".attn", n, d)) : o);
                SDVariable h2 = layerNorm(x, w.get(b + "ln2.g"), w.get(b + "ln2.b"));
                SDVariable f = linear(sd.nn().relu(linear(h2, w, b + "mlp.w1", b + "mlp.b1"), 0), w,
                        b + "mlp.w2", b + "mlp.b2");
                x = x.add(dropout ? f.mul(maskPlaceholder("drop" + i + ".mlp", n, d)) : f);
                blockOutputs.add(x.name());
            }
            SDVariable out = layerNorm(x, w.get("lnf.g"), w.get("lnf.b"));
            hidden = out.name();
            SDVariable upstream = sd.placeHolder("dhidden", dtype, n, d);
            sd.setLossVariables(out.mul(upstream).sum());
        }

        /**
         * LayerNorm over the feature axis (ε = 1e-5 as in OPT), written with elementwise ops: in a per-op profile of
         * the d=768 step, M2.1's fused layer_norm and layer_norm_bp took ~600 ms, more than the blocks' matmuls.
         */
        private SDVariable layerNorm(SDVariable x, SDVariable gain, SDVariable shift) {
            SDVariable centered = x.sub(x.mean(true, 1));
            SDVariable std = sd.math().sqrt(centered.mul(centered).mean(true, 1).add(LN_EPS));
            return centered.div(std).mul(gain).add(shift);
        }

        private SDVariable linear(SDVariable in, Map<String, SDVariable> w, String weight, String bias) {
            return sd.nn().biasAdd(sd.mmul(in, w.get(weight)), w.get(bias), false);
        }

        private SDVariable heads(SDVariable x, int batch, int len, int heads, int hd) {
            return x.reshape(batch, len, heads, hd).permute(0, 2, 1, 3);
        }

        private SDVariable maskPlaceholder(String name, long n, int d) {
            masks.add(name);
            return sd.placeHolder(name, dtype, n, d);
        }

        /** Inverted-dropout masks (0 or 1/keep) for this micro-batch, drawn from its own seed. */
        Map<String, INDArray> placeholders(double dropout, long seed) {
            Map<String, INDArray> ph = new HashMap<>();
            if (!masks.isEmpty()) {
                Nd4j.getRandom().setSeed(seed);
                double keep = 1.0 - dropout;
                for (String m : masks) {
                    INDArray u = Nd4j.rand(dtype, (long) batch * len, cfg.dModel());
                    ph.put(m, u.lt(keep).castTo(dtype).muli(1.0 / keep));
                }
            }
            return ph;
        }
    }
}
