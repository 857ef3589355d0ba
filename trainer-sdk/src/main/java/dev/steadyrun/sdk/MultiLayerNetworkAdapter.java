package dev.steadyrun.sdk;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;

/**
 * A DL4J {@link MultiLayerNetwork} under a {@link TrainingSession}: one optimizer step with the knobs applied, and
 * the arrays and counters a checkpoint needs for an exact resume (parameters, updater state such as Adam's moments,
 * and the iteration count that the updater's bias correction and schedules read).
 *
 * <p>The step is DL4J's own (gradient, updater, parameter update) with three additions between them: the gradient
 * (DL4J's sums over the examples) is summed over the data-parallel ranks ({@link DataParallel#sumGradients}, nothing
 * with one rank), so that the updater, which divides by the batch size it is given (the global one), sees the global
 * batch's; its global L2 norm is measured and clipped to the session's threshold before the updater sees it; and the
 * update is scaled by the ratio of the session's learning rate to the configured one (the updaters DL4J ships scale
 * their update linearly with the learning rate). Every rank then applies the same update to the same parameters.
 */
public final class MultiLayerNetworkAdapter {

    static final String PARAMS = "params";
    static final String UPDATER = "updater";

    /** What one step measured. */
    public record Step(double loss, double gradNorm) {
    }

    private final MultiLayerNetwork net;
    private final DataParallel dp;

    /**
     * @param net an initialized network ({@link MultiLayerNetwork#init()})
     * @param dp  the session's ring ({@link TrainingSession#dataParallel()})
     */
    public MultiLayerNetworkAdapter(MultiLayerNetwork net, DataParallel dp) {
        this.net = net;
        this.dp = dp;
    }

    /**
     * One optimizer step on {@code batch}: this rank's slice of the global batch ({@link TrainingSession#slice}).
     * The loss is this rank's; the gradient norm is the global one.
     *
     * @param clipNorm the global-norm clipping threshold, 0 for none
     * @param lrFactor the session's learning rate divided by the one the network was configured with
     */
    public Step step(DataSet batch, double clipNorm, double lrFactor) {
        net.setInput(batch.getFeatures());
        net.setLabels(batch.getLabels());
        net.computeGradientAndScore();
        double loss = net.score();
        Gradient gradient = net.gradient();
        INDArray flat = gradient.gradient();
        dp.sumGradients(flat);
        double norm = flat.norm2Number().doubleValue();
        if (clipNorm > 0 && norm > clipNorm) {
            flat.muli(clipNorm / norm);
        }
        int iteration = net.getIterationCount();
        // the slices are equal (TrainingSession.slice): the global batch is this one's size times the ranks
        int globalBatch = (int) batch.getFeatures().size(0) * dp.worldSize();
        net.getUpdater().update(net, gradient, iteration, net.getEpochCount(), globalBatch,
                LayerWorkspaceMgr.noWorkspaces());
        if (lrFactor != 1.0) {
            flat.muli(lrFactor);
        }
        net.params().subi(flat);
        net.setIterationCount(iteration + 1);
        return new Step(loss, norm);
    }

    /** The arrays of a checkpoint: the parameters and the updater's state (none for plain SGD). */
    public Map<String, INDArray> arrays() {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        arrays.put(PARAMS, net.params());
        INDArray updater = net.getUpdater().getStateViewArray();
        if (updater != null) {
            arrays.put(UPDATER, updater);
        }
        return arrays;
    }

    /** The counters of a checkpoint, as the program's state text. */
    public String counters() {
        return net.getIterationCount() + " " + net.getEpochCount();
    }

    /**
     * Loads a checkpoint's arrays and counters into the network.
     *
     * @throws IllegalArgumentException when they do not fit this network (a changed architecture)
     */
    public void restore(Map<String, INDArray> arrays, String counters) {
        INDArray params = arrays.get(PARAMS);
        if (params == null || params.length() != net.params().length()) {
            throw new IllegalArgumentException("the checkpoint's parameters do not fit this network ("
                    + (params == null ? "none" : params.length()) + " values, the network has "
                    + net.params().length() + ")");
        }
        net.params().assign(params.reshape(net.params().shape()));
        INDArray state = net.getUpdater().getStateViewArray();
        INDArray saved = arrays.get(UPDATER);
        if ((state == null) != (saved == null) || state != null && state.length() != saved.length()) {
            throw new IllegalArgumentException("the checkpoint's updater state does not fit this network's updater");
        }
        if (state != null) {
            state.assign(saved.reshape(state.shape()));
        }
        String[] c = counters.strip().split(" ");
        net.setIterationCount(Integer.parseInt(c[0]));
        net.setEpochCount(Integer.parseInt(c[1]));
    }
}
