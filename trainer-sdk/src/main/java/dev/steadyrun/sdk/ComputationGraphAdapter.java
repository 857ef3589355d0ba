package dev.steadyrun.sdk;

import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * A DL4J {@link ComputationGraph} under a {@link TrainingSession} ({@link ModelAdapter}): DL4J's own step (gradient,
 * updater, parameter update, as {@code fit} does it) with global-norm clipping and the learning-rate ratio between
 * them, and the parameters, updater state and counters (iteration, epoch) a checkpoint needs, restored exactly.
 * A batch is a {@link MultiDataSet}: one array per graph input and per output, with their masks if any.
 */
public final class ComputationGraphAdapter extends NetworkAdapter<MultiDataSet> {

    private final ComputationGraph graph;

    /** @param graph an initialized graph ({@link ComputationGraph#init()}) */
    public ComputationGraphAdapter(ComputationGraph graph) {
        super(graph);
        this.graph = graph;
    }

    @Override
    int computeGradientAndScore(MultiDataSet batch) {
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        boolean masked = batch.getFeaturesMaskArrays() != null || batch.getLabelsMaskArrays() != null;
        if (masked) {
            graph.setLayerMaskArrays(batch.getFeaturesMaskArrays(), batch.getLabelsMaskArrays());
        }
        graph.computeGradientAndScore();
        if (masked) {
            graph.clearLayerMaskArrays();
        }
        return (int) batch.getFeatures(0).size(0);
    }

    @Override
    void runUpdater(Gradient gradient, int iteration, int epoch, int batchSize) {
        graph.getUpdater().update(gradient, iteration, epoch, batchSize, LayerWorkspaceMgr.noWorkspaces());
    }

    @Override
    INDArray updaterState() {
        return graph.getUpdater().getStateViewArray();
    }

    @Override
    int iteration() {
        return graph.getIterationCount();
    }

    @Override
    int epoch() {
        return graph.getEpochCount();
    }

    @Override
    void setCounters(int iteration, int epoch) {
        graph.getConfiguration().setIterationCount(iteration);
        graph.getConfiguration().setEpochCount(epoch);
    }
}
