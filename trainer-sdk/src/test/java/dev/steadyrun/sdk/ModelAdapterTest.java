package dev.steadyrun.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.DoubleSupplier;
import java.util.function.LongFunction;
import java.util.function.Supplier;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Each adapter resumes exactly: a model stopped after step 3, checkpointed through {@link CheckpointFiles} and
 * restored into a model initialized differently, takes steps 4 to 7 with the same losses and gradient norms and ends
 * with the same parameters and updater state, bit for bit, as the model that was not interrupted. Clipping and a
 * learning-rate ratio are on in every step, so that their paths are part of what must repeat.
 */
class ModelAdapterTest {

    private static final int STEPS = 7;
    private static final int STOP = 3;
    private static final double CLIP = 0.5;
    private static final double LR_FACTOR = 0.5;

    @TempDir
    Path dir;

    @Test
    void aMultiLayerNetworkResumesExactly() throws Exception {
        assertExactResume(seed -> new MultiLayerNetworkAdapter(mlp(seed)), step -> {
            float[][][] xy = data(step, 8, 4, 3);
            return new DataSet(Nd4j.createFromArray(xy[0]), Nd4j.createFromArray(xy[1]));
        });
    }

    @Test
    void aComputationGraphResumesExactly() throws Exception {
        assertExactResume(seed -> new ComputationGraphAdapter(lstmGraph(seed)), ModelAdapterTest::sequences);
    }

    @Test
    void aComputationGraphStepIsDl4jsFitWithoutClippingOrRatio() {
        ComputationGraph fitted = lstmGraph(1);
        ComputationGraphAdapter adapter = new ComputationGraphAdapter(lstmGraph(1));
        for (long step = 0; step < 3; step++) {
            fitted.fit(sequences(step));
            adapter.step(sequences(step), 0, 1.0);
        }
        assertThat(adapter.arrays().get(NetworkAdapter.PARAMS).data().asFloat())
                .isEqualTo(fitted.params().data().asFloat());
        assertThat(adapter.arrays().get(NetworkAdapter.UPDATER).data().asFloat())
                .isEqualTo(fitted.getUpdater().getStateViewArray().data().asFloat());
        assertThat(adapter.counters()).isEqualTo(fitted.getIterationCount() + " " + fitted.getEpochCount());
    }

    @Test
    void aSameDiffGraphResumesExactly() throws Exception {
        assertExactResume(seed -> new SameDiffAdapter(regression(seed), new Adam(0.01)), step -> {
            float[][][] xy = data(step, 8, 3, 1);
            return Map.of("x", Nd4j.createFromArray(xy[0]), "y", Nd4j.createFromArray(xy[1]));
        });
    }

    @Test
    void aSameDiffGraphLearnsAndItsCheckpointHoldsEveryVariableAndTheMoments() {
        SameDiffAdapter model = new SameDiffAdapter(regression(1), new Adam(0.01));
        float[][][] xy = data(0, 32, 3, 1);
        Map<String, INDArray> batch = Map.of("x", Nd4j.createFromArray(xy[0]), "y", Nd4j.createFromArray(xy[1]));
        double first = model.step(batch, 0, 1.0).loss();
        double last = first;
        for (int i = 0; i < 100; i++) {
            last = model.step(batch, 0, 1.0).loss();
        }
        assertThat(last).isLessThan(first / 2);
        assertThat(model.arrays()).containsOnlyKeys("variable/w1", "variable/b1", "variable/w2", "variable/b2",
                "updater");
        assertThat(model.arrays().get("updater").length()).as("Adam: two moments per parameter")
                .isEqualTo(2 * (3 * 8 + 8 + 8 + 1));
        assertThat(model.counters()).isEqualTo("101 0");
    }

    /**
     * Under plain SGD the update is {@code lr · lrFactor · clipped gradient}: the parameters move by exactly that
     * much, which shows that the clipping and the ratio act on the array the updater and the parameters use.
     */
    @Test
    void theClipNormAndTheLearningRateRatioReachTheParameters() {
        double lr = 0.1;
        assertKnobsReachTheParameters(() -> new MultiLayerNetworkAdapter(mlp(1, new Sgd(lr))), lr, step -> {
            float[][][] xy = data(step, 8, 4, 3);
            return new DataSet(Nd4j.createFromArray(xy[0]), Nd4j.createFromArray(xy[1]));
        });
        assertKnobsReachTheParameters(() -> new ComputationGraphAdapter(lstmGraph(1, new Sgd(lr))), lr,
                ModelAdapterTest::sequences);
        assertKnobsReachTheParameters(() -> new SameDiffAdapter(regression(1), new Sgd(lr)), lr, step -> {
            float[][][] xy = data(step, 8, 3, 1);
            return Map.of("x", Nd4j.createFromArray(xy[0]), "y", Nd4j.createFromArray(xy[1]));
        });
    }

    private static <B> void assertKnobsReachTheParameters(Supplier<ModelAdapter<B>> model, double lr,
                                                          LongFunction<B> batch) {
        ModelAdapter<B> clipped = model.get();
        double clip = 1e-3;
        double clippedMove = move(clipped, () -> clipped.step(batch.apply(0), clip, 1.0).gradNorm());
        assertThat(clippedMove).isCloseTo(lr * clip, within(lr * clip * 1e-3));

        ModelAdapter<B> halved = model.get();
        double[] norm = new double[1];
        double halvedMove = move(halved, () -> norm[0] = halved.step(batch.apply(0), 0, 0.5).gradNorm());
        assertThat(norm[0]).isGreaterThan(clip);
        assertThat(halvedMove).isCloseTo(lr * 0.5 * norm[0], within(lr * norm[0] * 1e-3));
    }

    /** The L2 distance the parameters (every array but the updater's) move during {@code step}. */
    private static double move(ModelAdapter<?> model, DoubleSupplier step) {
        List<INDArray> before = model.arrays().values().stream().map(INDArray::dup).toList();
        step.getAsDouble();
        double squares = 0;
        List<INDArray> after = List.copyOf(model.arrays().values());
        for (int i = 0; i < before.size(); i++) {
            double d = after.get(i).castTo(DataType.DOUBLE).sub(before.get(i).castTo(DataType.DOUBLE))
                    .norm2Number().doubleValue();
            squares += d * d;
        }
        return Math.sqrt(squares);
    }

    @Test
    void plainSgdHasNoUpdaterStateToKeep() {
        SameDiffAdapter model = new SameDiffAdapter(regression(1), new Sgd(0.1));
        float[][][] xy = data(0, 8, 3, 1);
        Map<String, INDArray> batch = Map.of("x", Nd4j.createFromArray(xy[0]), "y", Nd4j.createFromArray(xy[1]));
        INDArray before = model.arrays().get("variable/w1").dup();
        model.step(batch, 0, 1.0);
        assertThat(model.arrays()).doesNotContainKey("updater").containsKey("variable/w1");
        assertThat(model.arrays().get("variable/w1")).isNotEqualTo(before);
    }

    @Test
    void aCheckpointOfAnotherModelIsRefused() {
        MultiLayerNetworkAdapter small = new MultiLayerNetworkAdapter(mlp(1));
        SameDiffAdapter other = new SameDiffAdapter(regression(1), new Adam(0.01));
        assertThatThrownBy(() -> small.restore(other.arrays(), other.counters()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("variable/w1");
        MultiLayerNetwork wider = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.FLOAT).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(9).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(9).nOut(3)
                        .activation(Activation.SOFTMAX).build()).build());
        wider.init();
        assertThatThrownBy(() -> small.restore(new MultiLayerNetworkAdapter(wider).arrays(), "0 0"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("params");
    }

    private <B> void assertExactResume(LongFunction<ModelAdapter<B>> model, LongFunction<B> batch) throws Exception {
        ModelAdapter<B> straight = model.apply(1);
        List<ModelAdapter.Step> straightSteps = new ArrayList<>();
        CheckpointFiles.Written checkpoint = null;
        for (long step = 0; step < STEPS; step++) {
            straightSteps.add(straight.step(batch.apply(step), CLIP, LR_FACTOR));
            if (step + 1 == STOP) {
                checkpoint = CheckpointFiles.write(dir, STOP, straight.arrays(), straight.counters(), 3);
            }
        }
        assertThat(straightSteps).as("clipping is on in these steps")
                .anyMatch(s -> s.gradNorm() > CLIP);

        ModelAdapter<B> resumed = model.apply(2); // other initial parameters: the restore must replace them all
        assertThat(data(resumed)).isNotEqualTo(data(straight));
        CheckpointFiles.Content c = CheckpointFiles.load(checkpoint.path(), checkpoint.manifestSha256());
        resumed.restore(c.arrays(), c.stateJson());
        List<ModelAdapter.Step> resumedSteps = new ArrayList<>();
        for (long step = STOP; step < STEPS; step++) {
            resumedSteps.add(resumed.step(batch.apply(step), CLIP, LR_FACTOR));
        }

        assertThat(resumedSteps).isEqualTo(straightSteps.subList(STOP, STEPS));
        assertThat(resumed.arrays().keySet()).isEqualTo(straight.arrays().keySet());
        assertThat(data(resumed)).isEqualTo(data(straight));
        assertThat(resumed.counters()).isEqualTo(straight.counters()).isEqualTo(STEPS + " 0");
    }

    /** Every checkpoint array's values, for an exact comparison. */
    private static List<List<Float>> data(ModelAdapter<?> model) {
        List<List<Float>> all = new ArrayList<>();
        for (INDArray a : model.arrays().values()) {
            List<Float> values = new ArrayList<>();
            for (float f : a.dup().data().asFloat()) {
                values.add(f);
            }
            all.add(values);
        }
        return all;
    }

    /** Batch {@code step}: {@code rows} inputs of {@code in} values and one-hot or real targets of {@code out}. */
    private static float[][][] data(long step, int rows, int in, int out) {
        Random r = new Random(100 + step);
        float[][] x = new float[rows][in];
        float[][] y = new float[rows][out];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < in; j++) {
                x[i][j] = (float) r.nextGaussian();
            }
            if (out == 1) {
                y[i][0] = (float) Math.sin(3 * x[i][0]) + x[i][1];
            } else {
                y[i][r.nextInt(out)] = 1;
            }
        }
        return new float[][][] {x, y};
    }

    private static MultiDataSet sequences(long step) {
        Random r = new Random(200 + step);
        float[][][] x = new float[4][5][6];
        float[][][] y = new float[4][3][6];
        for (int b = 0; b < 4; b++) {
            for (int t = 0; t < 6; t++) {
                x[b][r.nextInt(5)][t] = 1;
                y[b][r.nextInt(3)][t] = 1;
            }
        }
        return new MultiDataSet(Nd4j.createFromArray(x), Nd4j.createFromArray(y));
    }

    private static MultiLayerNetwork mlp(long seed) {
        return mlp(seed, new Adam(0.05));
    }

    private static MultiLayerNetwork mlp(long seed, IUpdater updater) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER).updater(updater).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** An LSTM whose output layer also sees the input (a merge vertex): a graph, not a stack. */
    private static ComputationGraph lstmGraph(long seed) {
        return lstmGraph(seed, new Adam(0.05));
    }

    private static ComputationGraph lstmGraph(long seed, IUpdater updater) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER).updater(updater).graphBuilder()
                .addInputs("in")
                .addLayer("lstm", new LSTM.Builder().nIn(5).nOut(8).activation(Activation.TANH).build(), "in")
                .addLayer("out", new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8 + 5).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "lstm", "in")
                .setOutputs("out")
                .setInputTypes(InputType.recurrent(5))
                .build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        return graph;
    }

    /** {@code y ≈ tanh(x·w1 + b1)·w2 + b2}, mean squared error. */
    private static SameDiff regression(long seed) {
        Random r = new Random(seed);
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 3);
        SDVariable y = sd.placeHolder("y", DataType.FLOAT, -1, 1);
        SDVariable w1 = sd.var("w1", gaussian(r, 0.5, 3, 8));
        SDVariable b1 = sd.var("b1", gaussian(r, 0.1, 8));
        SDVariable w2 = sd.var("w2", gaussian(r, 0.5, 8, 1));
        SDVariable b2 = sd.var("b2", gaussian(r, 0.1, 1));
        SDVariable hidden = sd.math.tanh(sd.nn.biasAdd(x.mmul(w1), b1, true));
        sd.loss.meanSquaredError("loss", y, sd.nn.biasAdd(hidden.mmul(w2), b2, true), null);
        return sd;
    }

    private static INDArray gaussian(Random r, double scale, long... shape) {
        INDArray a = Nd4j.create(DataType.FLOAT, shape);
        for (long i = 0; i < a.length(); i++) {
            a.putScalar(i, r.nextGaussian() * scale);
        }
        return a;
    }
}
