package dev.steadyrun.sdk;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.gradient.Gradient;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What {@link MultiLayerNetworkAdapter} and {@link ComputationGraphAdapter} share: a DL4J network keeps its
 * parameters and its gradient in one flat array each, and its updater's state (Adam's moments) in one more; the
 * iteration count, which the updater's bias correction and schedules read, lives in the network's configuration.
 */
public abstract class NetworkAdapter<B> extends ModelAdapter<B> {

    static final String PARAMS = "params";
    static final String UPDATER = "updater";

    private final Model net;
    private Gradient gradient;

    NetworkAdapter(Model net, DataParallel dp) {
        super(dp);
        this.net = net;
    }

    @Override
    public final double computeGradient(B batch) {
        int batchSize = computeGradientAndScore(batch);
        gradient = net.gradient();
        // DL4J's backward pass sums the examples' gradients and its updater divides by the batch size (a network
        // configured as miniBatch, the default). Dividing here instead, and telling the updater the batch is 1, makes
        // gradient() the gradient of the mean loss the step reports: gradNorm and the clipping threshold do not
        // depend on the batch size, as in the SameDiff adapter and the built-in trainer.
        if (net.conf().isMiniBatch()) {
            gradient.gradient().divi(batchSize);
        }
        return net.score();
    }

    /** Sets the batch as the network's input and labels and runs DL4J's forward and backward pass; the batch size. */
    abstract int computeGradientAndScore(B batch);

    /** The network's updater on its gradient (DL4J's own: learning rate, moments, regularization), in place. */
    abstract void runUpdater(Gradient gradient, int iteration, int epoch, int batchSize);

    abstract INDArray updaterState();

    @Override
    public final INDArray gradient() {
        if (gradient == null) {
            throw new IllegalStateException("no gradient: computeGradient comes first");
        }
        return gradient.gradient();
    }

    @Override
    final void toUpdate(INDArray flat) {
        runUpdater(gradient, iteration(), epoch(), 1);
    }

    @Override
    final void subtract(INDArray update) {
        net.params().subi(update);
        setCounters(iteration() + 1, epoch());
    }

    /** The parameters and the updater's state (none for plain SGD). */
    @Override
    public final Map<String, INDArray> arrays() {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        arrays.put(PARAMS, net.params());
        INDArray state = updaterState();
        if (state != null) {
            arrays.put(UPDATER, state);
        }
        return arrays;
    }
}
