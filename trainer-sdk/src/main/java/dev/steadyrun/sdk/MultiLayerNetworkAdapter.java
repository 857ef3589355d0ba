package dev.steadyrun.sdk;

import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;

/**
 * A DL4J {@link MultiLayerNetwork} under a {@link TrainingSession} ({@link ModelAdapter}): DL4J's own step
 * (gradient, updater, parameter update) with global-norm clipping and the learning-rate ratio between them, and the
 * parameters, updater state and counters (iteration, epoch) a checkpoint needs, restored exactly.
 */
public final class MultiLayerNetworkAdapter extends NetworkAdapter<DataSet> {

    private final MultiLayerNetwork net;

    /** @param net an initialized network ({@link MultiLayerNetwork#init()}) */
    public MultiLayerNetworkAdapter(MultiLayerNetwork net) {
        super(net);
        this.net = net;
    }

    @Override
    int computeGradientAndScore(DataSet batch) {
        net.setInput(batch.getFeatures());
        net.setLabels(batch.getLabels());
        net.computeGradientAndScore();
        return (int) batch.getFeatures().size(0);
    }

    @Override
    void runUpdater(Gradient gradient, int iteration, int epoch, int batchSize) {
        net.getUpdater().update(net, gradient, iteration, epoch, batchSize, LayerWorkspaceMgr.noWorkspaces());
    }

    @Override
    INDArray updaterState() {
        return net.getUpdater().getStateViewArray();
    }

    @Override
    int iteration() {
        return net.getIterationCount();
    }

    @Override
    int epoch() {
        return net.getEpochCount();
    }

    @Override
    void setCounters(int iteration, int epoch) {
        net.setIterationCount(iteration);
        net.setEpochCount(epoch);
    }
}
