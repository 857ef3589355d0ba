package dev.steadyrun.sdk;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collection;
import java.util.function.Consumer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.collectives.Rendezvous;
import dev.steadyrun.protocol.RingSecret;

/**
 * Synchronous data parallelism for a loop under a {@link TrainingSession}, over the same ring as the built-in trainer
 * ({@code collectives}: rendezvous at {@code --rendezvous}, every hello proven with the generation's ring secret).
 * Every rank holds the whole model: each trains on its slice of the global batch ({@link TrainingSession#slice}),
 * {@link #sumGradients} or {@link #averageGradients} makes every rank's gradient the global batch's (the same bits
 * on every rank: the ring sums in a fixed order), and each rank then runs the same update on the same parameters.
 * One rank is a world of one: every method returns at once and nothing is opened.
 *
 * <p>Every method is a collective: all ranks call the same ones in the same order. An adapter hands over its flat
 * gradient view ({@link ModelAdapter}); a failure of a peer is a
 * {@link dev.steadyrun.collectives.PeerLostException} (exit 5), a rank of an older generation a
 * {@link dev.steadyrun.collectives.CollectiveException} with exit 6, as in the built-in trainer.
 */
public final class DataParallel implements AutoCloseable {

    /** The run id the ring checks when the command line names none, as in the built-in trainer. */
    static final String RING_ID = "steadyrun-trainer";

    private final Collectives ring;

    private DataParallel(Collectives ring) {
        this.ring = ring;
    }

    /**
     * Joins the generation's ring with the built-in trainer's config keys and defaults: {@code peerTimeoutSeconds}
     * (60: a collective that hears nothing for this long fails) and {@code rendezvousTimeoutSeconds} (120).
     *
     * @param secret the generation's ring secret ({@link RingSecret#ENV}); required with more than one rank
     */
    static DataParallel join(TrainerArgs args, RingSecret secret) {
        long peer = args.longValue("peerTimeoutSeconds", 60);
        long rendezvous = args.longValue("rendezvousTimeoutSeconds", 120);
        if (peer < 1 || rendezvous < 1) {
            throw new IllegalArgumentException("peerTimeoutSeconds and rendezvousTimeoutSeconds must be ≥ 1");
        }
        String runId = args.runId() == null || args.runId().isBlank() ? RING_ID : args.runId();
        DistConfig config = DistConfig.of(runId, args.generation(), args.rank(), args.worldSize(), args.rendezvous(),
                secret).withTimeouts(Duration.ofSeconds(rendezvous), Duration.ofSeconds(rendezvous),
                Duration.ofSeconds(peer));
        return new DataParallel(Rendezvous.join(config));
    }

    public int rank() {
        return ring.rank();
    }

    public int worldSize() {
        return ring.worldSize();
    }

    /**
     * Replaces {@code gradient} (FLOAT or DOUBLE) by its sum over all ranks, in place: for a gradient that sums over
     * the examples, as DL4J's networks' gradients do (their updater divides by the batch size it is given, which
     * must then be the global batch).
     */
    public void sumGradients(INDArray gradient) {
        if (worldSize() == 1) {
            return;
        }
        ByteBuffer direct = directFloats(gradient);
        if (direct != null) {
            ring.allReduceSum(direct); // straight from and into ND4J's memory
        } else {
            throughHeap(gradient, ring::allReduceSum, ring::allReduceSum);
        }
    }

    /**
     * Replaces {@code gradient} by its mean over all ranks, in place: for a gradient of a loss averaged over this
     * rank's slice (with equal slices, the mean over the ranks is the mean over the global batch).
     */
    public void averageGradients(INDArray gradient) {
        sumGradients(gradient);
        if (worldSize() > 1) {
            gradient.divi(worldSize());
        }
    }

    /**
     * Gives every rank rank 0's values of {@code arrays} (e.g. {@link MultiLayerNetworkAdapter#arrays()}): called
     * once, after the model is built and, on a restore, loaded, every rank starts from the same parameters and
     * optimizer state even where its initialization differs.
     */
    public void broadcast(Collection<INDArray> arrays) {
        if (worldSize() == 1) {
            return;
        }
        for (INDArray a : arrays) {
            throughHeap(a, values -> ring.broadcast(values, 0), values -> ring.broadcast(values, 0));
        }
    }

    /** Sums {@code values} over all ranks in place: how the session agrees on the loss, a stop and test faults. */
    void sum(double[] values) {
        ring.allReduceSum(values);
    }

    @Override
    public void close() {
        ring.close();
    }

    /** The array's own native memory when it is a whole, dense FLOAT buffer (a network's flat gradient is). */
    private static ByteBuffer directFloats(INDArray a) {
        // a vector's layout is the same in either order
        if (a.dataType() != DataType.FLOAT || a.isView() || a.offset() != 0
                || a.ordering() != 'c' && !a.isVectorOrScalar() || a.data().length() != a.length()) {
            return null;
        }
        ByteBuffer nio = a.data().asNio();
        return nio.capacity() == a.length() * Float.BYTES ? nio : null;
    }

    /** Runs a collective on a heap copy of {@code a} (DOUBLE or FLOAT) and writes its result back into {@code a}. */
    private static void throughHeap(INDArray a, Consumer<double[]> onDoubles, Consumer<float[]> onFloats) {
        INDArray result;
        if (a.dataType() == DataType.DOUBLE) {
            double[] values = a.dup('c').data().asDouble();
            onDoubles.accept(values);
            result = Nd4j.createFromArray(values);
        } else if (a.dataType() == DataType.FLOAT) {
            float[] values = a.dup('c').data().asFloat();
            onFloats.accept(values);
            result = Nd4j.createFromArray(values);
        } else {
            throw new IllegalArgumentException("data parallel: arrays must be FLOAT or DOUBLE, was " + a.dataType());
        }
        a.assign(result.reshape(a.shape()));
    }
}
