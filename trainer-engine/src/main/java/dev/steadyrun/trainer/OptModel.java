package dev.steadyrun.trainer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The OPT decoder, in one file: parameters, initialization, and the forward and backward passes written out in
 * plain ND4J (GEMMs plus a few elementwise ops), with no autodiff graph.
 *
 * <p>Why by hand: in DL4J 1.0.0-M2.1 the gradients of {@code gather}, {@code sparseSoftmaxCrossEntropy},
 * {@code dropout} and {@code logSumExp} are broken, and a SameDiff graph of the blocks had to run its forward pass
 * twice per micro-batch (once for the hidden state the head needs, again inside {@code calculateGradients}), and
 * took several times its GEMMs' time. Here the forward pass keeps the activations its backward pass
 * reads (LayerNorm statistics, q/k/v, attention probabilities, ReLU outputs, dropout masks) and each is used once.
 * The token and position embeddings are looked up in Java (the input gradient is scattered back into the embedding
 * gradients in a deterministic loop), and the tied head (logits = h·Wteᵀ, softmax, loss and dLoss/dlogits) runs as
 * preallocated GEMMs plus one in-place softmax. Under tensor parallelism ({@link TensorGroup}) the blocks are split
 * Megatron-LM style, and the token embedding, with the tied head and its cross-entropy, is vocabulary-parallel.
 * Dropout is a multiplication by a Bernoulli mask generated from a seed, which makes it deterministic. The
 * whole-model finite-difference check ({@code OptModelTest}) holds every hand-written derivative to account.
 *
 * <p>Over 400 lines on purpose: each forward step and the backward step that reads its saved activations sit in the
 * same file, so a change to one is read against the other.
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
    /**
     * Weights the forward pass reads: the master arrays themselves, or FP16-rounded copies (see
     * {@link #roundForwardWeights}); when sharded, only the units gathered at the moment.
     */
    private Map<String, INDArray> forward;
    private final boolean fp16Forward;
    /** Gathers and releases each unit's weights around its passes (fully sharded), or null: every weight resident. */
    private Units units;
    /** Parameter names by unit ({@link #unitOf}). */
    private final Map<Integer, List<String>> unitNames = new HashMap<>();
    /**
     * Megatron-LM tensor parallelism: the group whose members hold the other slices of every block and of the token
     * embedding, or null.
     */
    private final TensorGroup tensorGroup;
    /** The token ids whose wte rows this member holds: [vocabFrom, vocabTo) (the whole vocabulary with no group). */
    private final int vocabFrom;
    private final int vocabTo;
    private INDArray logitsBuffer;
    /** The flattened len × len causal mask, by len: built once (it took ~2 ms per micro-batch at T=512), only read. */
    private final Map<Integer, INDArray> causalMasks = new HashMap<>();

    private OptModel(ModelConfig cfg, DataType dtype, Map<String, INDArray> params, boolean fp16Forward,
                     TensorGroup tensorGroup) {
        this.cfg = cfg;
        this.tensorGroup = tensorGroup;
        int rows = cfg.vocab() / groupSize();
        this.vocabFrom = tensorGroup == null ? 0 : tensorGroup.rank() * rows;
        this.vocabTo = vocabFrom + rows;
        this.dtype = dtype;
        this.params = params;
        this.fp16Forward = fp16Forward;
        params.keySet().forEach(n -> unitNames.computeIfAbsent(unitOf(n), u -> new ArrayList<>()).add(n));
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
        return shapes(cfg, 1);
    }

    /** The shapes of one slice of {@code tensorParallel} (see {@link #tensorSlice}). */
    static Map<String, long[]> shapes(ModelConfig cfg, int tensorParallel) {
        if (tensorParallel < 1 || cfg.heads() % tensorParallel != 0) {
            throw new IllegalArgumentException("tensor parallelism splits the heads: " + cfg.heads() + " heads over "
                    + tensorParallel + " ranks");
        }
        if (cfg.vocab() % tensorParallel != 0) {
            throw new IllegalArgumentException("tensor parallelism splits the vocabulary: vocab " + cfg.vocab()
                    + " is not a multiple of tensorParallel " + tensorParallel);
        }
        Map<String, long[]> s = new LinkedHashMap<>();
        long d = cfg.dModel();
        long dt = d / tensorParallel;
        long ft = 4 * d / tensorParallel;
        s.put("wte", new long[]{cfg.vocab() / tensorParallel, d});
        s.put("wpe", new long[]{cfg.seqLen(), d});
        for (int i = 0; i < cfg.layers(); i++) {
            String b = "h" + i + ".";
            s.put(b + "ln1.g", new long[]{d});
            s.put(b + "ln1.b", new long[]{d});
            for (String m : List.of("q", "k", "v")) {
                s.put(b + "attn.w" + m, new long[]{d, dt});
                s.put(b + "attn.b" + m, new long[]{dt});
            }
            s.put(b + "attn.wo", new long[]{dt, d});
            s.put(b + "attn.bo", new long[]{d});
            s.put(b + "ln2.g", new long[]{d});
            s.put(b + "ln2.b", new long[]{d});
            s.put(b + "mlp.w1", new long[]{d, ft});
            s.put(b + "mlp.b1", new long[]{ft});
            s.put(b + "mlp.w2", new long[]{ft, d});
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
        return new OptModel(cfg, dtype, p, fp16Forward, null);
    }

    /** A model over existing weights (a restored checkpoint); the arrays are used as they are, not copied. */
    public static OptModel fromParams(ModelConfig cfg, DataType dtype, Map<String, INDArray> loaded, boolean fp16Forward) {
        return fromParams(cfg, dtype, loaded, fp16Forward, null);
    }

    /**
     * A tensor-parallel member over its slice ({@link #tensorSlice}) of a model's weights; {@code group} null: the
     * whole model.
     */
    static OptModel fromParams(ModelConfig cfg, DataType dtype, Map<String, INDArray> loaded, boolean fp16Forward,
                               TensorGroup group) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        shapes(cfg, group == null ? 1 : group.size()).forEach((name, shape) -> {
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
        return new OptModel(cfg, dtype, p, fp16Forward, group);
    }

    /**
     * Megatron-LM's split of a block pair over a tensor-parallel group: the first layer column-parallel (q, k, v by
     * whole heads; the first FFN layer by columns, with their biases), the second row-parallel (attention output,
     * second FFN layer, by rows; their biases whole, added once after the sum). Each member runs its slice of the
     * pair on the whole (replicated) input, and the partial outputs are summed by one all-reduce in the forward pass;
     * in the backward pass one all-reduce sums the input gradient of the column-parallel layer. The token embedding
     * is vocabulary-parallel (member t holds rows [t·V/T, (t+1)·V/T) of wte): one all-reduce assembles the lookup,
     * and the tied head's cross-entropy exchanges only per-token (log-sum-exp, target logit) figures, then sums the
     * hidden state's gradient. The position embedding and the LayerNorms are replicated: every member computes the
     * same values and gradients for them.
     */
    interface TensorGroup {
        int rank();

        int size();

        /** Sums {@code a} over the group in place; every member ends with the same bits. */
        void allReduceSum(INDArray a);
    }

    /** Member t's slice of a whole model's parameters (copies), in the shapes of {@link #shapes(ModelConfig, int)}. */
    static Map<String, INDArray> tensorSlice(Map<String, INDArray> whole, int t, int size) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        whole.forEach((name, a) -> out.put(name, tensorSlice(name, a, t, size)));
        return out;
    }

    /** Member t's slice of one whole tensor (a copy, C order); a replicated tensor is copied whole. */
    static INDArray tensorSlice(String name, INDArray a, int t, int size) {
        int axis = splitAxis(name);
        if (axis < 0) {
            return a.dup('c');
        }
        axis = Math.min(axis, a.rank() - 1);
        long n = a.size(axis) / size;
        INDArrayIndex[] at = new INDArrayIndex[a.rank()];
        Arrays.fill(at, NDArrayIndex.all());
        at[axis] = NDArrayIndex.interval(t * n, (t + 1) * n);
        return a.get(at).dup('c');
    }

    /** The whole tensor from every member's slice in member order (the inverse of {@link #tensorSlice}). */
    static INDArray tensorWhole(String name, List<INDArray> slices) {
        int axis = splitAxis(name);
        if (axis < 0 || slices.size() == 1) {
            return slices.get(0).dup('c');
        }
        return Nd4j.concat(Math.min(axis, slices.get(0).rank() - 1), slices.toArray(INDArray[]::new)).dup('c');
    }

    /**
     * The axis along which tensor parallelism cuts a parameter, or -1 when every member holds it whole: the last axis
     * (1, or 0 for a bias) of a column-parallel layer, the rows (0) of a row-parallel one and of the token embedding
     * (by vocabulary).
     */
    static int splitAxis(String name) {
        if (name.matches("h\\d+\\.(attn\\.[wb][qkv]|mlp\\.[wb]1)")) {
            return 1;
        }
        return name.equals("wte") || name.endsWith("attn.wo") || name.endsWith("mlp.w2") ? 0 : -1;
    }

    /** Master parameters by name, in a fixed order (empty once {@link #shard sharded}: no rank holds them all). */
    public Map<String, INDArray> params() {
        return Collections.unmodifiableMap(params);
    }

    /** The gathering unit of the token and position embeddings (the tied head's weights too). */
    static final int EMBEDDINGS = 0;
    /** The gathering unit of the final LayerNorm; block i's is i + 1. */
    static final int FINAL_NORM = -1;

    /** The unit that gathers a parameter: {@link #EMBEDDINGS}, i + 1 for block i's, or {@link #FINAL_NORM}. */
    static int unitOf(String name) {
        if (name.startsWith("lnf.")) {
            return FINAL_NORM;
        }
        return name.startsWith("h") ? Integer.parseInt(name.substring(1, name.indexOf('.'))) + 1 : EMBEDDINGS;
    }

    /**
     * Fully sharded data parallelism: the model lets go of its full weights (the caller keeps its shards) and, from
     * now on, asks {@code units} for each unit's weights just before it runs and frees them right after. The
     * embeddings are gathered for the lookup and again for the tied head, and freed between the head's two GEMMs
     * (the weight gradient needs only the logits and h); their gradients are reduced after the embedding gradient is
     * scattered, at the end of the backward pass. The final LayerNorm stays from its forward to its backward pass.
     */
    void shard(Units units) {
        this.units = units;
        params.clear();
        forward = new LinkedHashMap<>();
    }

    /**
     * Where a sharded model's weights come from: {@code gather} puts a unit's full weights into {@code weights}
     * (false: they were there already), {@code free} takes them out; {@code gradients} puts zeroed accumulators for a
     * unit into {@code grads}, {@code reduce} sums them over the ranks into the caller's shard and takes them out.
     */
    interface Units {
        boolean gather(int unit, Map<String, INDArray> weights);

        void free(int unit, Map<String, INDArray> weights);

        void gradients(int unit, Map<String, INDArray> grads);

        void reduce(int unit, Map<String, INDArray> grads);
    }

    private void gather(int unit) {
        if (units != null && units.gather(unit, forward) && fp16Forward) {
            // a freshly gathered copy is this pass's alone: rounded in place, as roundForwardWeights rounds the copies
            for (String n : unitNames.get(unit)) {
                INDArray w = forward.get(n);
                w.assign(w.castTo(DataType.HALF).castTo(dtype));
            }
        }
    }

    private void free(int unit) {
        if (units != null) {
            units.free(unit, forward);
        }
    }

    private void gradients(int unit, Map<String, INDArray> grads) {
        if (units != null) {
            units.gradients(unit, grads);
        }
    }

    private void reduce(int unit, Map<String, INDArray> grads) {
        if (units != null) {
            units.reduce(unit, grads);
        }
    }

    /** Weight decay applies to the 2-D weight matrices (embeddings included), not to biases or LayerNorm. */
    public static boolean isDecayed(INDArray param) {
        return param.rank() == 2;
    }

    /** Names of the weights that are the output projection of a residual branch (init scaled by 1/√(2L)). */
    public static boolean isResidualProjection(String name) {
        return name.endsWith("attn.wo") || name.endsWith("mlp.w2");
    }

    /** The architecture this model was built for. */
    public ModelConfig config() {
        return cfg;
    }

    /** Counted from the tensor shapes, so it holds when sharded too (no rank then holds the tensors). */
    public long parameterCount() {
        return shapes(cfg).values().stream().mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b)).sum();
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
        double loss = crossEntropy(f.hidden(), f.targets(), gradScale, dHidden, grads);
        INDArray dx0 = f.blocks().backward(dHidden, grads);
        scatterEmbeddingGradient(dx0, f.inputs(), rows.length, rows[0].length - 1, grads.get("wte"), grads.get("wpe"));
        reduce(EMBEDDINGS, grads);
        return new Pass(loss, f.inputs().length, f.blocks().rms());
    }

    /** Forward only, no dropout: the summed token loss of the rows (evaluation). */
    public Pass loss(int[][] rows) {
        return loss(rows, 0, 0);
    }

    /** Forward only, with the dropout masks {@link #forwardBackward} would draw for this seed. */
    public Pass loss(int[][] rows, double dropout, long dropoutSeed) {
        Forward f = forward(rows, dropout, dropoutSeed);
        double loss = crossEntropy(f.hidden(), f.targets(), 0, null, null);
        free(FINAL_NORM);
        return new Pass(loss, f.inputs().length, f.blocks().rms());
    }

    private record Forward(Blocks blocks, int[] inputs, int[] targets, INDArray hidden) {
    }

    /**
     * The blocks' forward pass: the final LayerNorm's output h, with the activations its backward pass needs. Leaves
     * the final LayerNorm gathered (its backward pass, or the caller, frees it).
     */
    private Forward forward(int[][] rows, double dropout, long dropoutSeed) {
        int batch = rows.length;
        int len = rows[0].length - 1;
        int[] inputs = inputs(rows, len);
        Blocks blocks = new Blocks(batch, len, dropout, dropoutSeed);
        INDArray hidden = blocks.forward(embed(inputs, batch, len));
        return new Forward(blocks, inputs, targets(rows, len), hidden);
    }

    /**
     * Logits of the next token after {@code context} (at most seqLen ids; later positions are padding, and causal).
     * Under tensor parallelism a collective: every member gets the whole vocabulary's.
     */
    public double[] nextTokenLogits(int[] context) {
        int len = cfg.seqLen();
        int n = Math.min(context.length, len);
        int[] window = new int[len];
        System.arraycopy(context, context.length - n, window, 0, n);
        INDArray h = new Blocks(1, len, 0, 0).forward(embed(window, 1, len)).getRow(n - 1).reshape(1, cfg.dModel());
        free(FINAL_NORM);
        gather(EMBEDDINGS);
        INDArray mine = Nd4j.gemm(h, forward.get("wte"), false, true);
        free(EMBEDDINGS);
        // the whole vocabulary's logits: each member's columns in their place, zeros elsewhere, summed over the group
        INDArray logits = Nd4j.zeros(dtype, 1, cfg.vocab());
        logits.get(NDArrayIndex.all(), NDArrayIndex.interval(vocabFrom, vocabTo)).assign(mine);
        return sumOverGroup(logits).toDoubleVector();
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

    /**
     * x0 = wte[token] + wpe[position], rows in (batch, position) order. No dropout on embeddings (OPT). Each member
     * looks up the ids it holds and zeros for the others; one sum over the group gives every member the whole lookup.
     */
    private INDArray embed(int[] ids, int batch, int len) {
        checkIds(ids);
        gather(EMBEDDINGS);
        int[] local = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            local[i] = holds(ids[i]) ? ids[i] - vocabFrom : 0;   // row 0 is a placeholder, zeroed below
        }
        INDArray x = Nd4j.pullRows(forward.get("wte"), 1, local);
        for (int i = 0; i < ids.length; i++) {
            if (!holds(ids[i])) {
                x.getRow(i).assign(0);
            }
        }
        sumOverGroup(x);
        INDArray pos = forward.get("wpe").get(NDArrayIndex.interval(0, len), NDArrayIndex.all());
        for (int b = 0; b < batch; b++) {
            x.get(NDArrayIndex.interval((long) b * len, (long) (b + 1) * len), NDArrayIndex.all()).addi(pos);
        }
        free(EMBEDDINGS);
        return x;
    }

    /**
     * Adds dx0 into the token rows this member holds (one row at a time, in order: repeated ids accumulate
     * deterministically) and into the position rows. dx0 is the same on every member: no communication.
     */
    private void scatterEmbeddingGradient(INDArray dx0, int[] ids, int batch, int len, INDArray dwte, INDArray dwpe) {
        for (int i = 0; i < ids.length; i++) {
            if (holds(ids[i])) {
                dwte.getRow(ids[i] - vocabFrom).addi(dx0.getRow(i));
            }
        }
        INDArray pos = dwpe.get(NDArrayIndex.interval(0, len), NDArrayIndex.all());
        for (int b = 0; b < batch; b++) {
            pos.addi(dx0.get(NDArrayIndex.interval((long) b * len, (long) (b + 1) * len), NDArrayIndex.all()));
        }
    }

    /**
     * Tied head and cross-entropy: logits = h·Wteᵀ, softmax in place, summed loss. When {@code dHidden} is given,
     * writes gradScale·dLoss/dh into it and adds gradScale·dLoss/dWte into {@code grads}' wte. Sharded, the
     * embeddings are gathered for it and freed before the weight gradient's GEMM, which needs only the logits and h.
     * The logits are [tokens × 50272] (200 MB at T=1024), so besides the three GEMMs they are traversed only twice:
     * one argmax and the softmax (three under tensor parallelism); everything else reads single elements.
     *
     * <p>Vocabulary-parallel: each member has only its columns of the logits (its rows of wte). Its softmax over them
     * gives its log-sum-exp per token as max − log(p_max), which never underflows; one small all-reduce exchanges
     * those and the target's logit (from the member that holds it), from which every member computes the same loss
     * = log-sum-exp − logit_target. Its slice of the whole softmax is its own softmax times its share of the
     * probability mass, exp(local − whole log-sum-exp); dh is each member's part summed by one all-reduce.
     */
    private double crossEntropy(INDArray hidden, int[] targets, double gradScale, INDArray dHidden,
                                Map<String, INDArray> grads) {
        checkIds(targets);
        int n = targets.length;
        int members = groupSize();
        int me = tensorGroup == null ? 0 : tensorGroup.rank();
        gather(EMBEDDINGS);
        INDArray wte = forward.get("wte");
        if (logitsBuffer == null || logitsBuffer.rows() != n) {
            logitsBuffer = null;   // let the old one be collected before the new allocation
            logitsBuffer = Nd4j.createUninitialized(dtype, n, vocabTo - vocabFrom);
        }
        INDArray logits = logitsBuffer;
        Nd4j.gemm(hidden, wte, logits, false, true, 1.0, 0.0);
        long[] argMax = logits.argMax(1).toLongVector();
        // per token: each member's log-sum-exp in its own column (max here, − log p_max once the softmax has run),
        // the target's logit in the last; zeros elsewhere, so the sum over the group is exact
        double[] stats = new double[n * (members + 1)];
        for (int i = 0; i < n; i++) {
            stats[i * (members + 1) + me] = logits.getDouble(i, argMax[i]);
            if (holds(targets[i])) {
                stats[i * (members + 1) + members] = logits.getDouble(i, targets[i] - vocabFrom);
            }
        }
        Nd4j.exec(new SoftMax(logits, logits, 1));
        for (int i = 0; i < n; i++) {
            stats[i * (members + 1) + me] -= Math.log(logits.getDouble(i, argMax[i]));
        }
        stats = sumOverGroup(Nd4j.createFromArray(stats)).toDoubleVector();
        double loss = 0;
        double[] share = new double[n];
        for (int i = 0; i < n; i++) {
            int row = i * (members + 1);
            double top = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < members; t++) {
                top = Math.max(top, stats[row + t]);
            }
            double sum = 0;
            for (int t = 0; t < members; t++) {
                sum += Math.exp(stats[row + t] - top);
            }
            double logSumExp = top + Math.log(sum);
            loss += logSumExp - stats[row + members];
            share[i] = Math.exp(stats[row + me] - logSumExp);
        }
        if (dHidden != null) {
            if (members > 1) {
                // with the whole vocabulary the share is exactly 1: the pass over the logits is skipped
                logits.muliColumnVector(Nd4j.create(share, new long[]{n, 1}, dtype));
            }
            for (int i = 0; i < n; i++) {
                if (holds(targets[i])) {
                    int c = targets[i] - vocabFrom;
                    logits.putScalar(i, c, logits.getDouble(i, c) - 1.0);
                }
            }
            // gradScale rides on the GEMMs' alpha instead of a pass over the logits
            Nd4j.gemm(logits, wte, dHidden, false, false, gradScale, 0.0);
            free(EMBEDDINGS);
            sumOverGroup(dHidden);
            gradients(EMBEDDINGS, grads);
            Nd4j.gemm(logits, hidden, grads.get("wte"), true, false, gradScale, 1.0);
        } else {
            free(EMBEDDINGS);
        }
        return loss;
    }

    private int groupSize() {
        return tensorGroup == null ? 1 : tensorGroup.size();
    }

    /** Whether this member holds token {@code id}'s row of wte. */
    private boolean holds(int id) {
        return id >= vocabFrom && id < vocabTo;
    }

    /** Sums each member's part of {@code a} over the tensor-parallel group, in place (no group: {@code a} as it is). */
    private INDArray sumOverGroup(INDArray a) {
        if (tensorGroup != null) {
            tensorGroup.allReduceSum(a);
        }
        return a;
    }

    /**
     * The decoder blocks over one micro-batch of (batch, length), on the forward weights: a forward pass that keeps
     * what the backward pass needs, and that backward pass, both written out by hand as GEMMs and a few elementwise
     * ops. Rows are in (batch, position) order, features in columns; attention works on per-(batch, head) blocks of
     * rows, laid out as [batch·heads·len, headDim].
     */
    private final class Blocks {
        private final int batch;
        private final int len;
        private final int heads;
        private final int headDim;
        private final double scale;
        private final List<Layer> layers = new ArrayList<>();
        private final List<INDArray> masks = new ArrayList<>();
        private final double[] rms;
        private Norm finalNorm;

        /** What one block's backward pass reads. */
        private record Layer(Norm ln1, INDArray q, INDArray k, INDArray v, INDArray probs, INDArray att, Norm ln2,
                             INDArray relu) {
        }

        /** A LayerNorm's normalized input, per-row standard deviation and output. */
        private record Norm(INDArray xhat, INDArray std, INDArray out) {
        }

        Blocks(int batch, int len, double dropout, long seed) {
            if (len > cfg.seqLen()) {
                throw new IllegalArgumentException("sequence of " + len + " tokens exceeds seqLen " + cfg.seqLen());
            }
            this.batch = batch;
            this.len = len;
            this.heads = cfg.heads() / groupSize();
            this.headDim = cfg.headDim();
            this.scale = 1.0 / Math.sqrt(headDim);
            this.rms = new double[cfg.layers()];
            if (dropout > 0) {
                // inverted-dropout masks (0 or 1/keep), drawn from this micro-batch's seed: attention then MLP, per block
                Nd4j.getRandom().setSeed(seed);
                double keep = 1.0 - dropout;
                for (int i = 0; i < 2 * cfg.layers(); i++) {
                    INDArray u = Nd4j.rand(dtype, (long) batch * len, cfg.dModel());
                    masks.add(u.lt(keep).castTo(dtype).muli(1.0 / keep));
                }
            }
        }

        double[] rms() {
            return rms;
        }

        INDArray forward(INDArray x) {
            INDArray causal = causalMasks.computeIfAbsent(len, OptModel.this::causalMask);
            for (int i = 0; i < cfg.layers(); i++) {
                String b = "h" + i + ".";
                gather(i + 1);
                Norm ln1 = layerNorm(x, b + "ln1");
                INDArray q = toHeads(linear(ln1.out(), b + "attn.wq", b + "attn.bq"));
                INDArray k = toHeads(linear(ln1.out(), b + "attn.wk", b + "attn.bk"));
                INDArray v = toHeads(linear(ln1.out(), b + "attn.wv", b + "attn.bv"));
                INDArray probs = Nd4j.createUninitialized(dtype, (long) batch * heads * len, len);
                INDArray ctx = Nd4j.createUninitialized(dtype, (long) batch * heads * len, headDim);
                for (int j = 0; j < batch * heads; j++) {
                    Nd4j.gemm(block(q, j), block(k, j), block(probs, j), false, true, scale, 0.0);
                }
                // one broadcast op over all (batch, head) blocks: each row of this view is one block's len × len scores
                probs.reshape((long) batch * heads, (long) len * len).addiRowVector(causal);
                Nd4j.exec(new SoftMax(probs, probs, 1));
                for (int j = 0; j < batch * heads; j++) {
                    Nd4j.gemm(block(probs, j), block(v, j), block(ctx, j), false, false, 1.0, 0.0);
                }
                INDArray att = fromHeads(ctx);
                x = x.add(dropped(rowParallel(att, b + "attn.wo", b + "attn.bo"), 2 * i));
                Norm ln2 = layerNorm(x, b + "ln2");
                INDArray relu = Transforms.relu(linear(ln2.out(), b + "mlp.w1", b + "mlp.b1"), false);
                x = x.add(dropped(rowParallel(relu, b + "mlp.w2", b + "mlp.b2"), 2 * i + 1));
                layers.add(new Layer(ln1, q, k, v, probs, att, ln2, relu));
                rms[i] = x.norm2Number().doubleValue() / Math.sqrt(x.length());
                free(i + 1);
            }
            gather(FINAL_NORM);
            finalNorm = layerNorm(x, "lnf");
            return finalNorm.out();
        }

        /** Adds every block parameter's gradient into {@code grads}; returns the gradient of the blocks' input. */
        INDArray backward(INDArray dHidden, Map<String, INDArray> grads) {
            gradients(FINAL_NORM, grads);
            INDArray dx = layerNormBackward(dHidden, finalNorm, "lnf", grads);
            reduce(FINAL_NORM, grads);
            free(FINAL_NORM);
            for (int i = cfg.layers() - 1; i >= 0; i--) {
                String b = "h" + i + ".";
                Layer l = layers.get(i);
                gather(i + 1);
                gradients(i + 1, grads);
                INDArray dRelu = linearBackward(dropped(dx.dup(), 2 * i + 1), l.relu(), b + "mlp.w2", b + "mlp.b2", grads);
                dRelu.muli(Transforms.sign(l.relu(), true));   // relu' is 1 where the output is positive, else 0
                INDArray dLn2 = sumOverGroup(linearBackward(dRelu, l.ln2().out(), b + "mlp.w1", b + "mlp.b1", grads));
                dx.addi(layerNormBackward(dLn2, l.ln2(), b + "ln2", grads));

                INDArray dCtx = toHeads(linearBackward(dropped(dx.dup(), 2 * i), l.att(), b + "attn.wo", b + "attn.bo", grads));
                long rows = (long) batch * heads * len;
                INDArray dScores = Nd4j.createUninitialized(dtype, rows, len);
                INDArray dq = Nd4j.createUninitialized(dtype, rows, headDim);
                INDArray dk = Nd4j.createUninitialized(dtype, rows, headDim);
                INDArray dv = Nd4j.createUninitialized(dtype, rows, headDim);
                for (int j = 0; j < batch * heads; j++) {
                    Nd4j.gemm(block(dCtx, j), block(l.v(), j), block(dScores, j), false, true, 1.0, 0.0);
                    Nd4j.gemm(block(l.probs(), j), block(dCtx, j), block(dv, j), true, false, 1.0, 0.0);
                }
                // softmax backward: dS = P ⊙ (dP − rowsum(dP ⊙ P))
                INDArray dot = dScores.mul(l.probs()).sum(true, 1);
                dScores.subiColumnVector(dot).muli(l.probs());
                for (int j = 0; j < batch * heads; j++) {
                    Nd4j.gemm(block(dScores, j), block(l.k(), j), block(dq, j), false, false, scale, 0.0);
                    Nd4j.gemm(block(dScores, j), block(l.q(), j), block(dk, j), true, false, scale, 0.0);
                }
                INDArray dLn1 = linearBackward(fromHeads(dq), l.ln1().out(), b + "attn.wq", b + "attn.bq", grads);
                dLn1.addi(linearBackward(fromHeads(dk), l.ln1().out(), b + "attn.wk", b + "attn.bk", grads));
                dLn1.addi(linearBackward(fromHeads(dv), l.ln1().out(), b + "attn.wv", b + "attn.bv", grads));
                sumOverGroup(dLn1);
                dx.addi(layerNormBackward(dLn1, l.ln1(), b + "ln1", grads));
                reduce(i + 1, grads);
                free(i + 1);
            }
            return dx;
        }

        /** The dropout mask's product, in place (no dropout: the array itself). */
        private INDArray dropped(INDArray a, int mask) {
            return masks.isEmpty() ? a : a.muli(masks.get(mask));
        }

        private INDArray linear(INDArray in, String weight, String bias) {
            return Nd4j.gemm(in, forward.get(weight), false, false).addiRowVector(forward.get(bias));
        }

        /**
         * A row-parallel layer: this member's partial product, summed over the tensor-parallel group, then the whole
         * bias once (with no group, exactly {@link #linear}).
         */
        private INDArray rowParallel(INDArray in, String weight, String bias) {
            INDArray out = Nd4j.gemm(in, forward.get(weight), false, false);
            return sumOverGroup(out).addiRowVector(forward.get(bias));
        }

        /** Adds dW = inᵀ·dOut and db = Σ dOut into {@code grads}; returns dIn = dOut·Wᵀ. */
        private INDArray linearBackward(INDArray dOut, INDArray in, String weight, String bias,
                                        Map<String, INDArray> grads) {
            Nd4j.gemm(in, dOut, grads.get(weight), true, false, 1.0, 1.0);
            grads.get(bias).addi(dOut.sum(0));
            return Nd4j.gemm(dOut, forward.get(weight), false, true);
        }

        /** LayerNorm over the feature axis, ε = 1e-5 as in OPT. */
        private Norm layerNorm(INDArray x, String name) {
            INDArray centered = x.subColumnVector(x.mean(true, 1));
            INDArray std = Transforms.sqrt(centered.mul(centered).mean(true, 1).addi(LN_EPS), false);
            INDArray xhat = centered.diviColumnVector(std);
            INDArray out = xhat.mulRowVector(forward.get(name + ".g")).addiRowVector(forward.get(name + ".b"));
            return new Norm(xhat, std, out);
        }

        /** dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) / σ with dx̂ = dy ⊙ g; adds dg and db into {@code grads}. */
        private INDArray layerNormBackward(INDArray dy, Norm n, String name, Map<String, INDArray> grads) {
            grads.get(name + ".g").addi(dy.mul(n.xhat()).sum(0));
            grads.get(name + ".b").addi(dy.sum(0));
            INDArray dxhat = dy.mulRowVector(forward.get(name + ".g"));
            INDArray projection = n.xhat().mulColumnVector(dxhat.mul(n.xhat()).mean(true, 1));
            return dxhat.subiColumnVector(dxhat.mean(true, 1)).subi(projection).diviColumnVector(n.std());
        }

        /** [batch·len, d] → [batch·heads·len, headDim]: each (batch, head) pair becomes a contiguous block of rows. */
        private INDArray toHeads(INDArray x) {
            return x.reshape(batch, len, heads, headDim).permute(0, 2, 1, 3).dup('c')
                    .reshape((long) batch * heads * len, headDim);
        }

        private INDArray fromHeads(INDArray x) {
            return x.reshape(batch, heads, len, headDim).permute(0, 2, 1, 3).dup('c')
                    .reshape((long) batch * len, (long) heads * headDim);
        }

        /** The rows of the j-th (batch, head) pair: a view. */
        private INDArray block(INDArray a, int j) {
            return a.get(NDArrayIndex.interval((long) j * len, (long) (j + 1) * len), NDArrayIndex.all());
        }
    }

    private INDArray causalMask(int len) {
        double[] causal = new double[len * len];
        for (int i = 0; i < len; i++) {
            Arrays.fill(causal, i * len + i + 1, (i + 1) * len, MASKED);
        }
        return Nd4j.create(causal, new long[] {(long) len * len}, dtype);
    }
}
