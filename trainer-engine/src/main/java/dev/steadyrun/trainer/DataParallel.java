package dev.steadyrun.trainer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import dev.steadyrun.trainer.ring.Collectives;
import dev.steadyrun.trainer.ring.DistConfig;
import dev.steadyrun.trainer.ring.Rendezvous;

/**
 * Synchronous data parallelism with sharded Adam state (ZeRO stage 1, what OPT's FSDP did for Adam), for any world
 * size: one rank is a world of one, whose collectives return at once (no sockets), so a single-rank run takes the
 * same path. The parameters are laid end to end in one flat FP32 vector in {@link OptModel#params()} order; rank r
 * owns chunk r of it ({@link Collectives#chunk}). The gradients the model accumulates into are views of a second
 * flat vector ({@link #gradients()}). Each step: the ranks' gradients are reduce-scattered (summed: every rank
 * already divided by the GLOBAL token count, so the sum is the mean over the global batch), each rank checks,
 * unscales and clips its chunk tensor by tensor, the squared norms, overflow flags and loss sums are all-reduced so
 * every rank takes the same decision, each rank runs AdamW on its chunk only (FP32 moments of its chunk only), and
 * the parameters are all-gathered.
 *
 * <p>The element-wise work is done per segment (the part of one tensor in the chunk) with the same sequence of ND4J
 * ops as {@link Optimizer#update}, so a chunk sees exactly the arithmetic that tensor would see alone; with one
 * rank a segment is a whole tensor.
 *
 * <p>Every method is a collective: all ranks call the same ones in the same order.
 */
final class DataParallel {

    /** Largest finite FP16 value: a scaled gradient beyond it overflows in FP16. */
    static final double FP16_MAX = 65504;
    /** The run id the ring checks when the command line names none ({@code --run-id}). */
    static final String RING_ID = "steadyrun-trainer";

    private final Collectives ring;
    private final int rank;
    private final int worldSize;
    private final List<String> names = new ArrayList<>();
    private final List<long[]> shapes = new ArrayList<>();
    private final int[] offsets;
    private final int n;
    private final Collectives.Chunk mine;
    private final INDArray flatGrad;
    private final INDArray flatParam;
    private final ByteBuffer gradBuffer;
    private final ByteBuffer paramBuffer;
    private final INDArray m;
    private final INDArray v;
    private final List<Segment> segments = new ArrayList<>();
    private long adamSteps;

    /** The part of one tensor inside this rank's chunk: views of the flat vectors and of the moments. */
    private record Segment(INDArray param, INDArray grad, INDArray m, INDArray v, boolean decayed) {
    }

    /** What the ranks agreed on for one step. */
    record Reduced(double lossSum, double gradNorm, boolean overflow, boolean stop) {
    }

    private DataParallel(Collectives ring, Map<String, INDArray> params) {
        this.ring = ring;
        this.rank = ring.rank();
        this.worldSize = ring.worldSize();
        long total = 0;
        offsets = new int[params.size()];
        int i = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            names.add(e.getKey());
            shapes.add(e.getValue().shape());
            offsets[i++] = (int) total;
            total += e.getValue().length();
        }
        // the flat vectors reach the sockets as one NIO buffer each, and an NIO buffer holds at most 2 GiB
        if (total > Integer.MAX_VALUE / Float.BYTES) {
            throw new IllegalArgumentException("data parallelism supports up to " + Integer.MAX_VALUE / Float.BYTES
                    + " parameters (one 2 GiB buffer of floats), the model has " + total);
        }
        n = (int) total;
        mine = ring.chunk(n, rank);
        flatGrad = Nd4j.create(DataType.FLOAT, n);
        flatParam = Nd4j.create(DataType.FLOAT, n);
        // the collectives send from and receive into ND4J's native memory, no copy through the Java heap
        gradBuffer = flatGrad.data().asNio();
        paramBuffer = flatParam.data().asNio();
        if (gradBuffer.capacity() != (long) n * Float.BYTES || paramBuffer.capacity() != (long) n * Float.BYTES) {
            throw new IllegalStateException("ND4J buffer of " + gradBuffer.capacity() + " bytes for " + n + " floats");
        }
        int len = Math.max(mine.length(), 1);   // ND4J has no empty vector; an empty chunk uses no segment
        m = Nd4j.zeros(DataType.FLOAT, len);
        v = Nd4j.zeros(DataType.FLOAT, len);
        i = 0;
        for (INDArray p : params.values()) {
            int from = Math.max(offsets[i], mine.from());
            int to = (int) Math.min(offsets[i] + p.length(), mine.to());
            if (from < to) {
                segments.add(new Segment(view(flatParam, from, to), view(flatGrad, from, to),
                        view(m, from - mine.from(), to - mine.from()), view(v, from - mine.from(), to - mine.from()),
                        OptModel.isDecayed(p)));
            }
            i++;
        }
        copyIn(params, flatParam);
    }

    /** Joins the generation's ring (timeouts from the config keys); a world of one opens no sockets. */
    static Collectives join(Trainer.Launch launch, Duration peerTimeout, Duration rendezvousTimeout) {
        DistConfig config = DistConfig.of(launch.runId(), launch.generation(), launch.rank(), launch.worldSize(),
                launch.rendezvous(), launch.ringSecret())
                .withTimeouts(rendezvousTimeout, rendezvousTimeout, peerTimeout);
        return Rendezvous.join(config);
    }

    static DataParallel over(Collectives ring, Map<String, INDArray> params) {
        return new DataParallel(ring, params);
    }

    int rank() {
        return rank;
    }

    int worldSize() {
        return worldSize;
    }

    long adamSteps() {
        return adamSteps;
    }

    /** Rank 0's text on every rank (null stays null): the restored checkpoint's state. */
    static String broadcastText(Collectives ring, String text) {
        byte[] bytes = text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
        double[] length = {text == null ? -1 : bytes.length};
        ring.broadcast(length, 0);
        if (length[0] < 0) {
            return null;
        }
        double[] values = new double[(int) length[0]];
        for (int i = 0; i < bytes.length && ring.rank() == 0; i++) {
            values[i] = bytes[i];
        }
        ring.broadcast(values, 0);
        byte[] got = new byte[values.length];
        for (int i = 0; i < got.length; i++) {
            got[i] = (byte) values[i];
        }
        return new String(got, StandardCharsets.UTF_8);
    }

    /** Rank 0's parameters (a restored checkpoint, which only rank 0 reads) copied into every rank's model. */
    void broadcastParams(Map<String, INDArray> params) {
        copyIn(params, flatParam);
        ring.broadcast(paramBuffer, 0);
        copyOut(flatParam, params);
    }

    /**
     * Every rank's parameters must be bit-identical before the first step: rank 0's SHA-256 is broadcast, every rank
     * compares, and the verdicts are all-reduced so that every rank fails together, naming the ranks that differ.
     */
    void verifyIdentical(String what) {
        byte[] digest = sha256(flatParam);
        double[] root = new double[digest.length];
        for (int i = 0; i < digest.length; i++) {
            root[i] = digest[i];
        }
        ring.broadcast(root, 0);
        byte[] rootDigest = new byte[root.length];
        for (int i = 0; i < root.length; i++) {
            rootDigest[i] = (byte) root[i];
        }
        double[] differs = new double[worldSize];
        differs[rank] = Arrays.equals(digest, rootDigest) ? 0 : 1;
        ring.allReduceSum(differs);
        List<Integer> bad = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            if (differs[r] != 0) {
                bad.add(r);
            }
        }
        if (!bad.isEmpty()) {
            throw new TrainConfig.InvalidConfigException("data parallel: the " + what + " parameters of rank(s) "
                    + bad + " differ from rank 0's (rank 0 SHA-256 " + HexFormat.of().formatHex(rootDigest)
                    + (bad.contains(rank) ? ", this rank's " + HexFormat.of().formatHex(digest) : "")
                    + "): every rank must use the same seed and model config");
        }
    }

    /** Sets this rank's moment shards: zeros, or its chunk of rank 0's restored full moments (broadcast). */
    void restoreMoments(Map<String, INDArray> firstMoments, Map<String, INDArray> secondMoments, long steps) {
        adamSteps = steps;
        double[] flag = {firstMoments != null ? 1 : 0};
        ring.broadcast(flag, 0);
        if (flag[0] == 0) {
            return;
        }
        loadShard(firstMoments, m);
        loadShard(secondMoments, v);
    }

    private void loadShard(Map<String, INDArray> full, INDArray shard) {
        INDArray flat = Nd4j.create(DataType.FLOAT, n);
        if (rank == 0) {
            copyIn(full, flat);
        }
        ring.broadcast(flat.data().asNio(), 0);
        if (mine.length() > 0) {
            view(shard, 0, mine.length()).assign(view(flat, mine.from(), mine.to()));
        }
    }

    /** Adam's full first and second moments by parameter name. */
    record Moments(Map<String, INDArray> first, Map<String, INDArray> second) {
    }

    /** The full moments for a checkpoint, gathered from every rank's shard; non-null on rank 0 only. */
    Moments gatherMoments() {
        Map<String, INDArray> first = gather(m);
        Map<String, INDArray> second = gather(v);
        return rank == 0 ? new Moments(first, second) : null;
    }

    private Map<String, INDArray> gather(INDArray shard) {
        INDArray flat = Nd4j.create(DataType.FLOAT, n);
        if (mine.length() > 0) {
            view(flat, mine.from(), mine.to()).assign(view(shard, 0, mine.length()));
        }
        ring.allGather(flat.data().asNio());
        if (rank != 0) {
            return null; // only rank 0 writes the checkpoint
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), tensorView(flat, i)); // views: the checkpoint writer takes its own copy
        }
        return out;
    }

    /**
     * The gradient accumulators, by parameter name: views of the flat vector that {@link #reduce} sums over the
     * ranks, so the model accumulates straight into it.
     */
    Map<String, INDArray> gradients() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            INDArray g = tensorView(flatGrad, i);
            // a reshape that copied instead of viewing would silently drop the gradients
            flatGrad.putScalar(offsets[i], 1);
            if (g.getDouble(0) != 1) {
                throw new IllegalStateException("the gradient of " + names.get(i) + " is not a view of the flat vector");
            }
            out.put(names.get(i), g);
        }
        flatGrad.assign(0);
        return out;
    }

    /** Zeroes every gradient accumulator before a step's micro-batches. */
    void zeroGradients() {
        flatGrad.assign(0);
    }

    /**
     * Sums the ranks' gradients (reduce-scatter), then, segment by segment of this rank's chunk: the FP16 overflow
     * check on the summed scaled gradients (rounding them to FP16 precision where they fit), unscaling, and the
     * squared norm; then all-reduces [sum of squares, overflow, loss sum, stop] so that every rank sees the same
     * global norm, overflow verdict, loss and stop request.
     */
    Reduced reduce(double localLossSum, boolean fp16, double lossScale, boolean stop) {
        ring.reduceScatter(gradBuffer);
        boolean overflow = false;
        double sumSq = 0;
        for (Segment s : segments) {
            INDArray g = s.grad();
            if (fp16) {
                double maxAbs = g.amaxNumber().doubleValue();
                if (!(maxAbs <= FP16_MAX)) {
                    overflow = true;
                } else {
                    // what an FP16 gradient buffer would hold: small values lose precision or flush to zero
                    g.assign(g.castTo(DataType.HALF).castTo(DataType.FLOAT));
                }
            }
            if (lossScale != 1.0) {
                g.divi(lossScale);
            }
            double norm = g.norm2Number().doubleValue();
            sumSq += norm * norm;
        }
        double[] agreed = {sumSq, overflow ? 1 : 0, localLossSum, stop ? 1 : 0};
        ring.allReduceSum(agreed);
        double gradNorm = Math.sqrt(agreed[0]);
        return new Reduced(agreed[2], gradNorm, agreed[1] > 0 || !Double.isFinite(gradNorm), agreed[3] > 0);
    }

    /** The optimizer update of this rank's chunk (clipping factor applied first), then the all-gather. */
    void step(Optimizer.Kind kind, Map<String, INDArray> params, double clip, double lr, double weightDecay,
              double beta1, double beta2, double eps) {
        if (kind == Optimizer.Kind.ADAMW) {
            adamSteps++;
        }
        for (Segment s : segments) {
            if (clip != 1.0) {
                s.grad().muli(clip);
            }
            Optimizer.update(kind, s.param(), s.grad(), s.m(), s.v(), s.decayed(), adamSteps, lr, weightDecay, beta1,
                    beta2, eps);
        }
        ring.allGather(paramBuffer);
        copyOut(flatParam, params);
    }

    private void copyIn(Map<String, INDArray> tensors, INDArray flat) {
        for (int i = 0; i < names.size(); i++) {
            INDArray t = tensors.get(names.get(i));
            // the tensor is reshaped, not the view: a reshape may copy, and the copy must not be what is written
            view(flat, offsets[i], (int) (offsets[i] + t.length())).assign(t.reshape(t.length()));
        }
    }

    private void copyOut(INDArray flat, Map<String, INDArray> tensors) {
        for (int i = 0; i < names.size(); i++) {
            tensors.get(names.get(i)).assign(tensorView(flat, i));
        }
    }

    private INDArray tensorView(INDArray flat, int i) {
        long[] shape = shapes.get(i);
        long length = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        return view(flat, offsets[i], (int) (offsets[i] + length)).reshape(shape);
    }

    private static INDArray view(INDArray flat, int from, int to) {
        return flat.get(NDArrayIndex.interval(from, to));
    }

    private static byte[] sha256(INDArray flat) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            ByteBuffer bytes = flat.data().asNio();
            d.update(bytes.duplicate());
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
