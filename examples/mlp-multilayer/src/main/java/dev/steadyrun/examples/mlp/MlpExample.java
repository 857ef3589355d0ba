package dev.steadyrun.examples.mlp;

import java.util.Random;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import dev.steadyrun.sdk.MultiLayerNetworkAdapter;
import dev.steadyrun.sdk.TrainingSession;

/**
 * A DL4J {@link MultiLayerNetwork} (two hidden layers) learning to tell three interleaved spirals apart, on points it
 * generates from the run's seed, trained through the trainer SDK: run by an agent it is restartable, takes knobs and
 * prints the protocol's lines.
 *
 * <p>Config keys ({@code --set}): {@code lr} (Adam, default 0.01), {@code clipNorm} (1.0), {@code seed} (1),
 * {@code microBatch} (points per optimizer step, all ranks together: 32), {@code hidden} (units per hidden layer,
 * 32), {@code points} (the data set's size, 3000), and the session's keys ({@code maxSteps},
 * {@code checkpointInterval}, {@code keepCheckpoints}, …). The other keys an agent passes (the OPT trainer's) are
 * ignored.
 *
 * <p>With {@code --world-size} N above 1 it trains data parallel: every rank generates the same points, starts
 * from rank 0's parameters, trains on its N-th of each step's {@code microBatch} points and averages the gradients
 * over the ranks, so N ranks take the steps one rank would (to float rounding).
 */
public final class MlpExample {

    private static final int CLASSES = 3;

    private MlpExample() {
    }

    public static void main(String[] args) {
        TrainingSession.main(args, MlpExample::train);
    }

    static void train(TrainingSession session) throws Exception {
        double lr = session.args().positiveReal("lr", 0.01);
        double clipNorm = session.args().real("clipNorm", 1.0);
        long seed = session.args().longValue("seed", 1);
        int batch = session.args().positiveInt("microBatch", 32);
        int hidden = session.args().positiveInt("hidden", 32);
        int points = session.args().positiveInt("points", 3000);
        DataSet data = spirals(points, seed);

        MultiLayerNetwork net = network(seed, hidden, lr);
        MultiLayerNetworkAdapter model = new MultiLayerNetworkAdapter(net, session.dataParallel());
        if (session.restored() != null) {
            model.restore(session.restored().arrays(), session.restored().userState());
        }
        session.dataParallel().broadcast(model.arrays().values());
        while (session.running()) {
            double applied = session.lr(lr, lr);
            double clip = session.clipNorm(clipNorm);
            MultiLayerNetworkAdapter.Step step = model.step(batch(data, session.slice(batch)), clip, applied / lr);
            session.stepDone(step.loss(), step.gradNorm(), applied, clip, batch);
            if (session.checkpointDue()) {
                session.checkpoint(model.arrays(), model.counters());
            }
        }
    }

    static MultiLayerNetwork network(long seed, int hidden, double lr) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(lr))
                .list()
                .layer(new DenseLayer.Builder().nIn(2).nOut(hidden).activation(Activation.TANH).build())
                .layer(new DenseLayer.Builder().nIn(hidden).nOut(hidden).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** {@code n} points on three noisy spiral arms, in a shuffled order fixed by the seed. */
    static DataSet spirals(int n, long seed) {
        Random random = new Random(seed);
        float[][] features = new float[n][2];
        float[][] labels = new float[n][CLASSES];
        for (int i = 0; i < n; i++) {
            int arm = i % CLASSES;
            double r = (double) (i / CLASSES) / (n / CLASSES) * 1.0 + 0.05;
            double angle = arm * 2 * Math.PI / CLASSES + r * 4 + random.nextGaussian() * 0.15;
            features[i][0] = (float) (r * Math.cos(angle));
            features[i][1] = (float) (r * Math.sin(angle));
            labels[i][arm] = 1;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            float[] f = features[i];
            features[i] = features[j];
            features[j] = f;
            float[] l = labels[i];
            labels[i] = labels[j];
            labels[j] = l;
        }
        return new DataSet(Nd4j.createFromArray(features), Nd4j.createFromArray(labels));
    }

    /** The points of a slice of the stream that runs through the data set again and again. */
    static DataSet batch(DataSet data, TrainingSession.Slice slice) {
        int n = data.numExamples();
        int[] rows = new int[slice.count()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (int) ((slice.first() + i) % n);
        }
        return new DataSet(data.getFeatures().getRows(rows), data.getLabels().getRows(rows));
    }
}
