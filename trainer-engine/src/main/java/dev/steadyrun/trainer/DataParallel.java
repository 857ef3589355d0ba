package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointReader;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardFile;
import dev.steadyrun.trainer.checkpoint.CheckpointStore.ShardPart;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.collectives.PeerLostException;
import dev.steadyrun.collectives.Rendezvous;
import dev.steadyrun.trainer.TrainConfig.Sharding;

/**
 * Synchronous data parallelism with sharded Adam state (ZeRO stage 1, what OPT's FSDP did for Adam), for any world
 * size: one rank is a world of one, whose collectives return at once (no sockets), so a single-rank run takes the
 * same path. The parameters are laid end to end in a flat FP32 vector in {@link OptModel#params()} order, cut into
 * pieces of whole tensors of at most {@link #MAX_PIECE} elements (a piece goes to the sockets and to a checkpoint file
 * as one NIO buffer, which holds at most 2 GiB: so any model size runs on any number of ranks); rank r owns chunk r
 * of every piece ({@link Collectives#chunk}). The gradients the model accumulates into are views of a second
 * flat vector, cut the same way ({@link #gradients()}). Each step: the ranks' gradients are reduce-scattered (summed: every rank
 * already divided by the GLOBAL token count, so the sum is the mean over the global batch), each rank checks,
 * unscales and clips its chunk tensor by tensor, the squared norms, overflow flags and loss sums are all-reduced so
 * every rank takes the same decision, each rank runs AdamW on its chunk only (FP32 moments of its chunk only), and
 * the parameters are all-gathered.
 *
 * <p>The element-wise work is done per segment (the part of one tensor in the chunk) with the same sequence of ND4J
 * ops as {@link Optimizer#update}, so a chunk sees exactly the arithmetic that tensor would see alone; with one
 * rank a segment is a whole tensor.
 *
 * <p>Fully sharded ({@link Sharding#FSDP}): the pieces are also cut where a gathering unit of the model ends
 * ({@link OptModel#unitOf}), and a rank keeps only its chunk of each piece's parameters and gradients besides the
 * moments; no rank holds the whole model between passes. As the {@link OptModel.Units} of a sharded model it
 * all-gathers a unit's pieces into fresh buffers just before the unit's forward pass and again before its backward
 * pass, and after the backward pass reduce-scatters the unit's gradients and adds this rank's chunk into its
 * gradient shard, then frees the buffers. So {@link #reduce} has nothing left to reduce-scatter, and {@link #step}
 * updates the shards with no all-gather (the next forward pass gathers). Checkpoints hold the same flat offsets in
 * either mode: any split restores from any other.
 *
 * <p>Every method is a collective: all ranks call the same ones in the same order.
 */
final class DataParallel implements OptModel.Units {

    /** Largest finite FP16 value: a scaled gradient beyond it overflows in FP16. */
    static final double FP16_MAX = 65504;
    /** The run id the ring checks when the command line names none ({@code --run-id}). */
    static final String RING_ID = "steadyrun-trainer";
    /**
     * Elements per piece at most: 2^28 floats, 1 GiB, under the 2 GiB of one NIO buffer with room to spare; the
     * largest tensor of the largest OPT (175B's embedding, 50,272 × 12,288 = 618M) is the one that would not fit.
     */
    static final long MAX_PIECE = 1L << 28;

    private final Collectives ring;
    private final int rank;
    private final int worldSize;
    private final List<String> names = new ArrayList<>();
    private final List<long[]> shapes = new ArrayList<>();
    /** Piece of each tensor, and its offset inside the piece. */
    private final int[] tensorPiece;
    private final int[] tensorOffset;
    private final List<Piece> pieces = new ArrayList<>();
    private final List<Segment> segments = new ArrayList<>();
    private final Sharding sharding;
    /** Fully sharded: the pieces of each gathering unit; the SHA-256 of the initial parameters, taken before sharding. */
    private final Map<Integer, List<Piece>> unitPieces = new HashMap<>();
    private final byte[] initialDigest;
    /** Fully sharded: bytes of gathered parameters and gradient buffers now, and the most at any one time. */
    private long gatheredBytes;
    private long peakGatheredBytes;
    private long adamSteps;
    /** The tensor-parallel group whose members hold the other slices of this rank's split tensors, or null. */
    private Collectives tensorGroup;

    /**
     * Consecutive whole tensors of one unit: elements [from, from + length) of the flat vector, this rank's chunk of
     * them, and the Adam moments of that chunk. The whole piece's parameters and gradients ({@code param},
     * {@code grad}, and their NIO views for the ring) are resident (ZeRO-1) or exist only while gathered (FSDP);
     * {@code shardParam} and {@code shardGrad}, this rank's chunk, are views of them (ZeRO-1) or arrays of their own
     * (FSDP); null when the chunk is empty.
     */
    private static final class Piece {
        final long from;
        final int length;
        final int firstTensor;
        final int endTensor;
        final Collectives.Chunk mine;
        final INDArray m;
        final INDArray v;
        INDArray shardParam;
        INDArray shardGrad;
        INDArray param;
        INDArray grad;
        ByteBuffer paramBuffer;
        ByteBuffer gradBuffer;

        Piece(long from, int length, int firstTensor, int endTensor, Collectives.Chunk mine) {
            this.from = from;
            this.length = length;
            this.firstTensor = firstTensor;
            this.endTensor = endTensor;
            this.mine = mine;
            int len = Math.max(mine.length(), 1);   // ND4J has no empty vector; an empty chunk uses no segment
            m = Nd4j.zeros(DataType.FLOAT, len);
            v = Nd4j.zeros(DataType.FLOAT, len);
        }

        long from() {
            return from;
        }

        int length() {
            return length;
        }

        Collectives.Chunk mine() {
            return mine;
        }
    }

    /** The part of one tensor inside this rank's chunk: views of the flat vectors and of the moments. */
    private record Segment(INDArray param, INDArray grad, INDArray m, INDArray v, boolean decayed, boolean split) {
    }

    /**
     * What the ranks agreed on for one step; {@code shardsWritten} and {@code shardsFailed} count the ranks whose
     * pending checkpoint shards are written, or failed.
     */
    record Reduced(double lossSum, double gradNorm, boolean overflow, boolean stop, int shardsWritten,
                   int shardsFailed) {
    }

    private DataParallel(Collectives ring, Map<String, INDArray> params, long maxPiece, Sharding sharding) {
        this.ring = ring;
        this.rank = ring.rank();
        this.worldSize = ring.worldSize();
        this.sharding = sharding;
        tensorPiece = new int[params.size()];
        tensorOffset = new int[params.size()];
        List<long[]> bounds = new ArrayList<>();   // [from, length, first tensor] of each piece
        long pieceFrom = 0;
        long pieceLength = 0;
        int pieceFirst = 0;
        int unit = -1;
        int i = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            long length = e.getValue().length();
            if (length > maxPiece) {
                throw new IllegalArgumentException("data parallelism cuts the parameters into pieces of whole tensors"
                        + " of up to " + maxPiece + " elements; " + e.getKey() + " has " + length);
            }
            int u = sharding == Sharding.FSDP ? OptModel.unitOf(e.getKey()) : 0;
            if (pieceLength + length > maxPiece || (i > 0 && u != unit)) {
                bounds.add(new long[]{pieceFrom, pieceLength, pieceFirst});
                pieceFrom += pieceLength;
                pieceLength = 0;
                pieceFirst = i;
            }
            unit = u;
            names.add(e.getKey());
            shapes.add(e.getValue().shape());
            tensorPiece[i] = bounds.size();
            tensorOffset[i] = (int) pieceLength;
            pieceLength += length;
            i++;
        }
        bounds.add(new long[]{pieceFrom, pieceLength, pieceFirst});
        for (int k = 0; k < bounds.size(); k++) {
            long[] b = bounds.get(k);
            int n = (int) b[1];
            int end = k + 1 < bounds.size() ? (int) bounds.get(k + 1)[2] : names.size();
            Piece piece = new Piece(b[0], n, (int) b[2], end, ring.chunk(n, rank));
            if (sharding == Sharding.ZERO1) {
                allocateWhole(piece, false);
                allocateWhole(piece, true);
            } else if (piece.mine.length() > 0) {
                piece.shardParam = Nd4j.create(DataType.FLOAT, piece.mine.length());
                piece.shardGrad = Nd4j.create(DataType.FLOAT, piece.mine.length());
            }
            pieces.add(piece);
            if (sharding == Sharding.FSDP) {
                unitPieces.computeIfAbsent(OptModel.unitOf(names.get(piece.firstTensor)), u -> new ArrayList<>())
                        .add(piece);
            }
        }
        i = 0;
        for (INDArray p : params.values()) {
            Piece piece = pieces.get(tensorPiece[i]);
            Collectives.Chunk mine = piece.mine();
            int from = Math.max(tensorOffset[i], mine.from());
            int to = (int) Math.min(tensorOffset[i] + p.length(), mine.to());
            if (from < to) {
                int a = from - mine.from();
                int b = to - mine.from();
                segments.add(new Segment(view(piece.shardParam, a, b), view(piece.shardGrad, a, b),
                        view(piece.m, a, b), view(piece.v, a, b), OptModel.isDecayed(p),
                        OptModel.splitAxis(names.get(i)) >= 0));
            }
            i++;
        }
        if (sharding == Sharding.ZERO1) {
            copyIn(params);
            initialDigest = null;
        } else {
            // the full parameters exist only now: hashed here, for verifyIdentical, then only this rank's chunks kept
            initialDigest = sha256(params);
            for (Piece piece : pieces) {
                if (piece.shardParam == null) {
                    continue;
                }
                for (int t = piece.firstTensor; t < piece.endTensor; t++) {
                    int from = Math.max(tensorOffset[t], piece.mine.from());
                    int to = (int) Math.min(tensorOffset[t] + params.get(names.get(t)).length(), piece.mine.to());
                    if (from < to) {
                        INDArray flat = params.get(names.get(t)).reshape(params.get(names.get(t)).length());
                        view(piece.shardParam, from - piece.mine.from(), to - piece.mine.from())
                                .assign(view(flat, from - tensorOffset[t], to - tensorOffset[t]));
                    }
                }
            }
        }
    }

    /**
     * The whole piece's parameters or gradients, with the NIO view the ring reads and writes; under ZeRO-1 this
     * rank's chunk is a view of them.
     */
    private static void allocateWhole(Piece piece, boolean gradients) {
        int n = Math.max(piece.length, 1);
        INDArray whole = Nd4j.create(DataType.FLOAT, n);
        // the collectives send from and receive into ND4J's native memory, no copy through the Java heap
        ByteBuffer buffer = whole.data().asNio();
        if (buffer.capacity() != (long) n * Float.BYTES) {
            throw new IllegalStateException("ND4J buffer of " + buffer.capacity() + " bytes for " + n + " floats");
        }
        INDArray chunk = piece.mine.length() == 0 ? null : view(whole, piece.mine.from(), piece.mine.to());
        if (gradients) {
            piece.grad = whole;
            piece.gradBuffer = buffer;
            if (piece.shardGrad == null) {
                piece.shardGrad = chunk;
            }
        } else {
            piece.param = whole;
            piece.paramBuffer = buffer;
            if (piece.shardParam == null) {
                piece.shardParam = chunk;
            }
        }
    }

    /** Joins the generation's ring (timeouts from the config keys); a world of one opens no sockets. */
    static Collectives join(Trainer.Launch launch, Duration peerTimeout, Duration rendezvousTimeout) {
        return Rendezvous.join(distConfig(launch, peerTimeout, rendezvousTimeout));
    }

    /** The world ring's configuration of a launch: what its tensor and data groups derive theirs from. */
    static DistConfig distConfig(Trainer.Launch launch, Duration peerTimeout, Duration rendezvousTimeout) {
        return DistConfig.of(launch.runId(), launch.generation(), launch.rank(), launch.worldSize(),
                launch.rendezvous(), launch.ringSecret())
                .withTimeouts(rendezvousTimeout, rendezvousTimeout, peerTimeout);
    }

    static DataParallel over(Collectives ring, Map<String, INDArray> params) {
        return new DataParallel(ring, params, MAX_PIECE, Sharding.ZERO1);
    }

    /**
     * Fully sharded ({@link Sharding#FSDP}): afterwards the caller should let go of {@code params} (only this rank's
     * chunks are kept here), as {@link OptModel#shard} does.
     */
    static DataParallel over(Collectives ring, Map<String, INDArray> params, Sharding sharding) {
        return new DataParallel(ring, params, MAX_PIECE, sharding);
    }

    /** With smaller pieces than {@link #MAX_PIECE}: how a test exercises the cutting on a small model. */
    static DataParallel over(Collectives ring, Map<String, INDArray> params, long maxPiece) {
        return new DataParallel(ring, params, maxPiece, Sharding.ZERO1);
    }

    /**
     * Under tensor parallelism (this ring a data group of {@link ParallelGroups}): the gradient norm and the overflow
     * verdict are then also agreed over the tensor group, the split tensors' squares summed over its members and the
     * replicated tensors' counted once.
     */
    void acrossTensorGroup(Collectives tensor) {
        this.tensorGroup = tensor.worldSize() > 1 ? tensor : null;
    }

    private int tensorSize() {
        return tensorGroup == null ? 1 : tensorGroup.worldSize();
    }

    private int tensorRank() {
        return tensorGroup == null ? 0 : tensorGroup.rank();
    }

    /** This rank in the world ring: data rank d of tensor rank t is d·T + t ({@link ParallelGroups}). */
    int worldRank() {
        return rank * tensorSize() + tensorRank();
    }

    /** Ranks in the world ring: every data rank of every tensor rank. */
    int worldRanks() {
        return worldSize * tensorSize();
    }

    /** Elements of this rank's model (its slice under tensor parallelism) laid end to end. */
    private long flatLength() {
        Piece last = pieces.get(pieces.size() - 1);
        return last.from() + last.length();
    }

    /**
     * Where this rank's flat vector starts in a checkpoint's: the tensor-parallel members' vectors lie end to end
     * ({@link CheckpointStore.TensorSplit}).
     */
    private long memberOffset() {
        return tensorRank() * flatLength();
    }

    Sharding sharding() {
        return sharding;
    }

    /**
     * Bytes this rank holds between steps for parameters, gradients and Adam's moments (FP32): the whole model's
     * parameters and gradients under ZeRO-1, this rank's chunks only when fully sharded; moments are chunks in both.
     */
    long residentBytes() {
        long elements = 0;
        for (Piece p : pieces) {
            long chunk = p.mine.length();
            elements += 2 * chunk + (sharding == Sharding.ZERO1 ? 2L * p.length : 2 * chunk);
        }
        return elements * Float.BYTES;
    }

    /** Fully sharded: the most bytes of gathered parameters and gradient buffers held at once so far (else 0). */
    long peakGatheredBytes() {
        return peakGatheredBytes;
    }

    int rank() {
        return rank;
    }

    /** The generation's ring, for collectives beyond the step's (a memory snapshot's replica). */
    Collectives ring() {
        return ring;
    }

    int worldSize() {
        return worldSize;
    }

    long adamSteps() {
        return adamSteps;
    }

    int pieceCount() {
        return pieces.size();
    }

    /** Rank 0's text on every rank (null stays null). */
    static String broadcastText(Collectives ring, String text) {
        return broadcastText(ring, text, 0);
    }

    /** Rank {@code root}'s text on every rank (null stays null). */
    static String broadcastText(Collectives ring, String text, int root) {
        byte[] bytes = text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
        double[] length = {text == null ? -1 : bytes.length};
        ring.broadcast(length, root);
        if (length[0] < 0) {
            return null;
        }
        double[] values = new double[(int) length[0]];
        for (int i = 0; i < bytes.length && ring.rank() == root; i++) {
            values[i] = bytes[i];
        }
        ring.broadcast(values, root);
        byte[] got = new byte[values.length];
        for (int i = 0; i < got.length; i++) {
            got[i] = (byte) values[i];
        }
        return new String(got, StandardCharsets.UTF_8);
    }

    /**
     * Every rank learns whether any rank failed to read a checkpoint, so that all fail alike: this rank's own
     * failure is rethrown; another rank's corrupt file makes every rank report the checkpoint corrupt (exit 3, any
     * rank's report marks it so); another rank's unreadable store is that rank's problem (exit 7 there), a lost
     * peer here.
     */
    static void agreeOnRestore(Collectives ring, IOException mine, Path dir) throws IOException {
        agreeOnRestore(ring, null, ring.rank(), ring.worldSize(), mine, dir);
    }

    /** {@link #agreeOnRestore(Collectives, IOException, Path)} over the world: the data ring, then the tensor group. */
    private static void agreeOnRestore(Collectives ring, Collectives tensor, int rank, int world, IOException mine,
                                       Path dir) throws IOException {
        double[] flags = new double[2 * world];
        if (mine instanceof CheckpointUnavailableException) {
            flags[2 * rank + 1] = 1;
        } else if (mine != null) {
            flags[2 * rank] = 1;
        }
        ring.allReduceSum(flags);
        if (tensor != null) {
            tensor.allReduceSum(flags);
        }
        if (mine != null) {
            throw mine;
        }
        for (int r = 0; r < world; r++) {
            if (flags[2 * r] > 0) {
                throw new CorruptCheckpointException(dir, "rank " + r + "'s part", "rank " + r
                        + " found it corrupt (its log names the file)");
            }
        }
        for (int r = 0; r < world; r++) {
            if (flags[2 * r + 1] > 0) {
                throw new PeerLostException("rank " + r + " cannot read checkpoint " + dir
                        + "; the generation must be restarted", null);
            }
        }
    }

    /**
     * Every rank's parameters must be bit-identical before the first step: rank 0's SHA-256 is broadcast, every rank
     * compares, and the verdicts are all-reduced so that every rank fails together, naming the ranks that differ.
     */
    void verifyIdentical(String what) {
        // fully sharded, no rank holds whole parameters after construction: the initial ones' digest stands for them
        // (a restore reads each chunk from one checkpoint, so there is nothing that could differ)
        byte[] digest = initialDigest != null ? initialDigest : sha256(null);
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

    /** How a checkpoint's slices join (tensor parallelism), or {@link CheckpointStore.TensorSplit#NONE}. */
    CheckpointStore.TensorSplit tensorSplit() {
        if (tensorGroup == null) {
            return CheckpointStore.TensorSplit.NONE;
        }
        Map<String, Integer> axes = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            int axis = OptModel.splitAxis(names.get(i));
            if (axis >= 0) {
                axes.put(names.get(i), Math.min(axis, shapes.get(i).length - 1));
            }
        }
        return new CheckpointStore.TensorSplit(tensorSize(), axes);
    }

    /** The flat layout a checkpoint records: tensor names and shapes (this member's slices) in order. */
    Map<String, long[]> layout() {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), shapes.get(i));
        }
        return out;
    }

    /**
     * This rank's part of a checkpoint: its chunk of every piece of the parameters and of both moments (views: the
     * store copies them before training goes on).
     */
    List<ShardPart> shardParts() {
        List<ShardPart> out = new ArrayList<>();
        for (String kind : CheckpointPaths.KINDS) {
            for (int k = 0; k < pieces.size(); k++) {
                Piece p = pieces.get(k);
                Collectives.Chunk c = p.mine();
                if (c.length() == 0) {
                    continue;
                }
                out.add(new ShardPart(kind, k, memberOffset() + p.from() + c.from(), chunkOf(p, kind)));
            }
        }
        return out;
    }

    /**
     * The second phase's agreement: every rank's file sums (size and SHA-256 of each shard file, and rank 0's
     * state.json) all-reduced, so rank 0 can name every file in the manifest without reading it back (and every rank
     * a memory snapshot's). A collective over the data ring and then the tensor group (each world rank fills only its
     * own slots); the complete list comes back on every rank, in world rank order.
     */
    List<ShardFile> exchangeShardFiles(List<ShardFile> mine) {
        return exchangeShardFiles(mine, ring, tensorGroup);
    }

    /**
     * {@link #exchangeShardFiles(List)} over another ring of the same ranks (a memory snapshot's replica ring, so
     * that it runs beside the training ring's collectives); without tensor parallelism only.
     */
    List<ShardFile> exchangeShardFilesOver(List<ShardFile> mine, Collectives sameRanks) {
        if (tensorGroup != null || sameRanks.worldSize() != worldSize || sameRanks.rank() != rank) {
            throw new IllegalStateException("another ring of this data ring's ranks, without tensor parallelism");
        }
        return exchangeShardFiles(mine, sameRanks, null);
    }

    private List<ShardFile> exchangeShardFiles(List<ShardFile> mine, Collectives data, Collectives tensor) {
        int slots = CheckpointPaths.KINDS.size() * pieces.size() + 1;   // + state.json
        int width = 2 + 32;   // present, bytes, SHA-256
        int world = worldRanks();
        int tensors = tensorSize();
        double[] all = new double[world * slots * width];
        for (ShardFile f : mine) {
            int slot = f.kind() == null ? slots - 1
                    : CheckpointPaths.KINDS.indexOf(f.kind()) * pieces.size() + pieceOf(f.from() - memberOffset());
            int at = (worldRank() * slots + slot) * width;
            all[at] = 1;
            all[at + 1] = f.bytes();
            byte[] sha = HexFormat.of().parseHex(f.sha256());
            for (int b = 0; b < sha.length; b++) {
                all[at + 2 + b] = sha[b];
            }
        }
        data.allReduceSum(all);
        if (tensor != null) {
            tensor.allReduceSum(all);
        }
        List<ShardFile> out = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            for (int slot = 0; slot < slots; slot++) {
                int at = (r * slots + slot) * width;
                if (all[at] == 0) {
                    continue;
                }
                byte[] sha = new byte[32];
                for (int b = 0; b < sha.length; b++) {
                    sha[b] = (byte) all[at + 2 + b];
                }
                long bytes = (long) all[at + 1];
                String hex = HexFormat.of().formatHex(sha);
                if (slot == slots - 1) {
                    out.add(new ShardFile(CheckpointPaths.STATE, bytes, hex, null, r, 0, 0));
                } else {
                    String kind = CheckpointPaths.KINDS.get(slot / pieces.size());
                    int k = slot % pieces.size();
                    Piece p = pieces.get(k);
                    Collectives.Chunk c = ring.chunk(p.length(), r / tensors);
                    out.add(new ShardFile(CheckpointPaths.shardFile(kind, r, k), bytes, hex, kind, r,
                            (r % tensors) * flatLength() + p.from() + c.from(), c.length()));
                }
            }
        }
        return out;
    }

    private int pieceOf(long from) {
        for (int k = pieces.size() - 1; k >= 0; k--) {
            if (pieces.get(k).from() <= from) {
                return k;
            }
        }
        throw new IllegalArgumentException("offset " + from);
    }

    /**
     * Restores parameters and moments from a checkpoint written at any world size and any tensor-parallel split:
     * each rank reads only its chunk of every piece (the files it overlaps, verified), the ranks agree that every
     * read succeeded, and the parameters are all-gathered. A collective (over the world: the data ring, then the
     * tensor group).
     *
     * <p>Written under another split, the checkpoint's slices do not line up with this rank's: each tensor this
     * rank's chunks overlap is then joined whole from the old slices ({@link CheckpointReader#readWhole}) and cut
     * again ({@link OptModel#tensorSlice}); one whole tensor at a time is held.
     */
    void restore(CheckpointReader checkpoint, long steps, Map<String, INDArray> params) throws IOException {
        IOException failed = null;
        try {
            boolean sameSplit = checkpoint.tensorParallel() == tensorSize();
            if (sameSplit ? !sameLayout(checkpoint.tensors()) : !sameLayout(checkpoint.wholeTensors(), true)) {
                throw new CorruptCheckpointException(checkpoint.dir(), CheckpointPaths.MANIFEST,
                        "its tensors are not the model's (names, shapes or order)");
            }
            for (String kind : CheckpointPaths.KINDS) {
                if (!kind.equals("param") && !checkpoint.has(kind)) {
                    continue;
                }
                for (Piece p : pieces) {
                    Collectives.Chunk c = p.mine();
                    if (c.length() == 0) {
                        continue;
                    }
                    INDArray dst = chunkOf(p, kind);
                    if (sameSplit) {
                        checkpoint.read(kind, memberOffset() + p.from() + c.from(), dst);
                    } else {
                        recut(checkpoint, kind, p, dst);
                    }
                }
            }
        } catch (IOException e) {
            failed = e;
        } finally {
            checkpoint.release();
        }
        agreeOnRestore(ring, tensorGroup, worldRank(), worldRanks(), failed, checkpoint.dir());
        gatherAll(params);
        adamSteps = steps;
    }

    /** This rank's chunk of piece {@code p} of a checkpoint kind: its parameters or its Adam moments (views). */
    private static INDArray chunkOf(Piece p, String kind) {
        int length = p.mine().length();
        return switch (kind) {
            case "param" -> p.shardParam;
            case "adam_m" -> view(p.m, 0, length);
            default -> view(p.v, 0, length);
        };
    }

    /** This rank's chunk of piece {@code p} of {@code kind}, cut from the whole tensors of another split. */
    private void recut(CheckpointReader checkpoint, String kind, Piece p, INDArray dst) throws IOException {
        int from = p.mine().from();
        int to = p.mine().to();
        for (int i = p.firstTensor; i < p.endTensor; i++) {
            int a = Math.max(from, tensorOffset[i]);
            long length = Arrays.stream(shapes.get(i)).reduce(1, (x, y) -> x * y);
            int b = (int) Math.min(to, tensorOffset[i] + length);
            if (a >= b) {
                continue;
            }
            INDArray whole = checkpoint.readWhole(kind, names.get(i));
            INDArray mine = OptModel.tensorSlice(names.get(i), whole, tensorRank(), tensorSize()).reshape(length);
            view(dst, a - from, b - from).assign(view(mine, a - tensorOffset[i], b - tensorOffset[i]));
        }
    }

    private boolean sameLayout(Map<String, long[]> tensors) {
        return sameLayout(tensors, false);
    }

    /** @param whole compare with this model's whole tensors (its slices joined over the tensor group) */
    private boolean sameLayout(Map<String, long[]> tensors, boolean whole) {
        if (tensors.size() != names.size()) {
            return false;
        }
        int i = 0;
        for (Map.Entry<String, long[]> t : tensors.entrySet()) {
            long[] shape = shapes.get(i).clone();
            int axis = OptModel.splitAxis(names.get(i));
            if (whole && axis >= 0) {
                shape[Math.min(axis, shape.length - 1)] *= tensorSize();
            }
            if (!t.getKey().equals(names.get(i)) || !Arrays.equals(t.getValue(), shape)) {
                return false;
            }
            i++;
        }
        return true;
    }

    /**
     * The gradient accumulators, by parameter name: views of the flat vector that {@link #reduce} sums over the
     * ranks, so the model accumulates straight into it.
     */
    Map<String, INDArray> gradients() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        if (sharding == Sharding.FSDP) {
            zeroGradients();
            return out;   // filled unit by unit (gradients(unit, grads)) for one backward pass at a time
        }
        for (int i = 0; i < names.size(); i++) {
            INDArray flat = pieces.get(tensorPiece[i]).grad;
            INDArray g = tensorView(flat, i);
            // a reshape that copied instead of viewing would silently drop the gradients
            flat.putScalar(tensorOffset[i], 1);
            if (g.getDouble(0) != 1) {
                throw new IllegalStateException("the gradient of " + names.get(i) + " is not a view of the flat vector");
            }
            out.put(names.get(i), g);
        }
        zeroGradients();
        return out;
    }

    /** Zeroes every gradient accumulator before a step's micro-batches. */
    void zeroGradients() {
        for (Piece p : pieces) {
            if (sharding == Sharding.ZERO1) {
                p.grad.assign(0);
            } else if (p.shardGrad != null) {
                p.shardGrad.assign(0);
            }
        }
    }

    /**
     * Test tool: what an FP16 overflow leaves, an infinity in this rank's gradients (its own chunk: the reduction
     * carries it to the same place on every mode), found by every rank's check.
     */
    void poisonGradients() {
        if (!segments.isEmpty()) {
            segments.get(0).grad().putScalar(0, Double.POSITIVE_INFINITY);
        }
    }

    @Override
    public boolean gather(int unit, Map<String, INDArray> weights) {
        boolean gathered = false;
        for (Piece p : unitPieces.get(unit)) {
            if (p.param == null) {
                allocateWhole(p, false);
                if (p.shardParam != null) {
                    view(p.param, p.mine.from(), p.mine.to()).assign(p.shardParam);
                }
                ring.allGather(p.paramBuffer);
                putViews(p, p.param, weights);
                gathered = true;
                count(p, 1);
            }
        }
        return gathered;
    }

    @Override
    public void free(int unit, Map<String, INDArray> weights) {
        for (Piece p : unitPieces.get(unit)) {
            if (p.param != null) {
                removeViews(p, weights);
                p.param.close();   // native memory back now, not when the collector finds the handle
                p.param = null;
                p.paramBuffer = null;
                count(p, -1);
            }
        }
    }

    @Override
    public void gradients(int unit, Map<String, INDArray> grads) {
        for (Piece p : unitPieces.get(unit)) {
            allocateWhole(p, true);   // Nd4j.create zeroes it
            putViews(p, p.grad, grads);
            count(p, 1);
        }
    }

    @Override
    public void reduce(int unit, Map<String, INDArray> grads) {
        for (Piece p : unitPieces.get(unit)) {
            ring.reduceScatter(p.gradBuffer);
            if (p.shardGrad != null) {
                p.shardGrad.addi(view(p.grad, p.mine.from(), p.mine.to()));
            }
            removeViews(p, grads);
            p.grad.close();
            p.grad = null;
            p.gradBuffer = null;
            count(p, -1);
        }
    }

    private void count(Piece p, int sign) {
        gatheredBytes += sign * (long) p.length * Float.BYTES;
        peakGatheredBytes = Math.max(peakGatheredBytes, gatheredBytes);
    }

    private void putViews(Piece p, INDArray whole, Map<String, INDArray> into) {
        for (int t = p.firstTensor; t < p.endTensor; t++) {
            into.put(names.get(t), tensorView(whole, t));
        }
    }

    private void removeViews(Piece p, Map<String, INDArray> from) {
        for (int t = p.firstTensor; t < p.endTensor; t++) {
            from.remove(names.get(t));
        }
    }

    /**
     * Sums the ranks' gradients (reduce-scatter, piece by piece), then, segment by segment of this rank's chunks:
     * the FP16 overflow check on the summed scaled gradients (rounding them to FP16 precision where they fit),
     * unscaling, and the squared norm; then all-reduces [sum of squares, overflow, loss sum, stop, shards written,
     * shards failed] so that every rank sees the same global norm, overflow verdict, loss, stop request and
     * checkpoint progress.
     */
    Reduced reduce(double localLossSum, boolean fp16, double lossScale, boolean stop, boolean shardsWritten,
                   boolean shardsFailed) {
        for (Piece p : pieces) {
            if (sharding == Sharding.ZERO1) {   // fully sharded: reduced unit by unit in the backward passes
                ring.reduceScatter(p.gradBuffer);
            }
        }
        boolean overflow = false;
        double sumSq = 0;
        double splitSq = 0;
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
            if (tensorGroup != null && s.split()) {
                splitSq += norm * norm;
            } else {
                sumSq += norm * norm;
            }
        }
        double[] agreed = {sumSq, overflow ? 1 : 0, localLossSum, stop ? 1 : 0, shardsWritten ? 1 : 0,
                shardsFailed ? 1 : 0, splitSq};
        ring.allReduceSum(agreed);
        if (tensorGroup != null) {
            // the members hold the same loss and replicated tensors: only what differs between them is summed, so
            // every world rank takes the same decisions (stop, overflow, checkpoint progress)
            double[] overGroup = {agreed[6], agreed[1], agreed[3], agreed[4], agreed[5]};
            tensorGroup.allReduceSum(overGroup);
            agreed[6] = overGroup[0];
            agreed[1] = overGroup[1];
            agreed[3] = overGroup[2];
            agreed[4] = overGroup[3];
            agreed[5] = overGroup[4];
        }
        double gradNorm = Math.sqrt(agreed[0] + agreed[6]);
        return new Reduced(agreed[2], gradNorm, agreed[1] > 0 || !Double.isFinite(gradNorm), agreed[3] > 0,
                (int) agreed[4], (int) agreed[5]);
    }

    /** How many world ranks have written (and how many failed to write) their pending shards: a collective. */
    int[] countShards(boolean written, boolean failed) {
        double[] counts = {written ? 1 : 0, failed ? 1 : 0};
        ring.allReduceSum(counts);
        if (tensorGroup != null) {
            tensorGroup.allReduceSum(counts);
        }
        return new int[]{(int) counts[0], (int) counts[1]};
    }

    /** The optimizer update of this rank's chunks (clipping factor applied first), then the all-gather. */
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
        gatherAll(params);
    }

    /** ZeRO-1: every rank's updated chunks to every rank, into the model's tensors. Fully sharded: nothing. */
    private void gatherAll(Map<String, INDArray> params) {
        if (sharding == Sharding.FSDP) {
            return;   // the next forward pass gathers, unit by unit
        }
        for (Piece p : pieces) {
            ring.allGather(p.paramBuffer);
        }
        copyOut(params);
    }

    private void copyIn(Map<String, INDArray> tensors) {
        for (int i = 0; i < names.size(); i++) {
            INDArray t = tensors.get(names.get(i));
            // the tensor is reshaped, not the view: a reshape may copy, and the copy must not be what is written
            view(pieces.get(tensorPiece[i]).param, tensorOffset[i], (int) (tensorOffset[i] + t.length()))
                    .assign(t.reshape(t.length()));
        }
    }

    private void copyOut(Map<String, INDArray> tensors) {
        for (int i = 0; i < names.size(); i++) {
            tensors.get(names.get(i)).assign(tensorView(pieces.get(tensorPiece[i]).param, i));
        }
    }

    private INDArray tensorView(INDArray flat, int i) {
        long[] shape = shapes.get(i);
        long length = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        return view(flat, tensorOffset[i], (int) (tensorOffset[i] + length)).reshape(shape);
    }

    private static INDArray view(INDArray flat, int from, int to) {
        return flat.get(NDArrayIndex.interval(from, to));
    }

    /** Of the flat parameters (ZeRO-1, {@code tensors} null), or of these tensors in order (before sharding). */
    private byte[] sha256(Map<String, INDArray> tensors) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            if (tensors == null) {
                for (Piece p : pieces) {
                    d.update(p.paramBuffer.duplicate().clear().limit(p.length * Float.BYTES));
                }
            } else {
                for (String n : names) {
                    INDArray t = tensors.get(n);
                    d.update(t.dup('c').data().asNio().duplicate().clear().limit((int) t.length() * Float.BYTES));
                }
            }
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
