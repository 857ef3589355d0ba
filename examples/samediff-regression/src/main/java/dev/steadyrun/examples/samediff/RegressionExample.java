package dev.steadyrun.examples.samediff;

import java.util.Map;
import java.util.Random;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import dev.steadyrun.sdk.SameDiffAdapter;
import dev.steadyrun.sdk.TrainingSession;

/**
 * A {@link SameDiff} graph written op by op — two tanh layers and a linear output, mean squared error — fitting the
 * surface {@code z = sin(πx)·cos(πy)} from noisy samples it draws from the run's seed, trained through the trainer
 * SDK's {@link SameDiffAdapter}: run by an agent it is restartable, takes knobs and prints the protocol's lines.
 *
 * <p>Config keys ({@code --set}): {@code lr} (Adam, default 0.01), {@code clipNorm} (1.0), {@code seed} (1),
 * {@code microBatch} (points per step, 64), {@code hidden} (units per hidden layer, 32), {@code points} (the data
 * set's size, 4000), and the session's {@code maxSteps}, {@code checkpointInterval}, {@code keepCheckpoints}. The
 * other keys an agent passes (the OPT trainer's) are ignored.
 */
public final class RegressionExample {

    private RegressionExample() {
    }

    public static void main(String[] args) {
        TrainingSession.main(args, RegressionExample::train);
    }

    static void train(TrainingSession session) throws Exception {
        double lr = session.args().positiveReal("lr", 0.01);
        double clipNorm = session.args().real("clipNorm", 1.0);
        long seed = session.args().longValue("seed", 1);
        int batch = session.args().positiveInt("microBatch", 64);
        int hidden = session.args().positiveInt("hidden", 32);
        float[][][] data = surface(session.args().positiveInt("points", 4000), seed);

        new SameDiffAdapter(graph(seed, hidden), new Adam(lr)).train(session, c -> batch(data, c, batch), lr, clipNorm,
                batch);
    }

    /** Placeholders {@code xy [n, 2]} and {@code z [n, 1]}; variables {@code w1 b1 w2 b2 w3 b3}; loss {@code loss}. */
    static SameDiff graph(long seed, int hidden) {
        Random random = new Random(seed);
        SameDiff sd = SameDiff.create();
        SDVariable xy = sd.placeHolder("xy", DataType.FLOAT, -1, 2);
        SDVariable z = sd.placeHolder("z", DataType.FLOAT, -1, 1);
        SDVariable h1 = sd.math.tanh(dense(sd, random, "1", xy, 2, hidden));
        SDVariable h2 = sd.math.tanh(dense(sd, random, "2", h1, hidden, hidden));
        sd.loss.meanSquaredError("loss", z, dense(sd, random, "3", h2, hidden, 1), null);
        return sd;
    }

    /** {@code in · w + b}, with {@code w} drawn Xavier-normal from {@code random} and {@code b} zero. */
    private static SDVariable dense(SameDiff sd, Random random, String n, SDVariable in, int nIn, int nOut) {
        INDArray w = Nd4j.create(DataType.FLOAT, nIn, nOut);
        double scale = Math.sqrt(2.0 / (nIn + nOut));
        for (long i = 0; i < w.length(); i++) {
            w.putScalar(i, random.nextGaussian() * scale);
        }
        return sd.nn.biasAdd(in.mmul(sd.var("w" + n, w)), sd.var("b" + n, Nd4j.zeros(DataType.FLOAT, nOut)), true);
    }

    /** {@code n} points in [-1, 1]² and their noisy {@code sin(πx)·cos(πy)}: {@code [xy, z]}. */
    static float[][][] surface(int n, long seed) {
        Random random = new Random(seed);
        float[][] xy = new float[n][2];
        float[][] z = new float[n][1];
        for (int i = 0; i < n; i++) {
            double x = random.nextDouble() * 2 - 1;
            double y = random.nextDouble() * 2 - 1;
            xy[i][0] = (float) x;
            xy[i][1] = (float) y;
            z[i][0] = (float) (Math.sin(Math.PI * x) * Math.cos(Math.PI * y) + random.nextGaussian() * 0.05);
        }
        return new float[][][] {xy, z};
    }

    /** Batch number {@code cursor}: the next {@code size} points after the previous batch, wrapping around. */
    static Map<String, INDArray> batch(float[][][] data, long cursor, int size) {
        int n = data[0].length;
        float[][] xy = new float[size][];
        float[][] z = new float[size][];
        for (int i = 0; i < size; i++) {
            int row = (int) ((cursor * size + i) % n);
            xy[i] = data[0][row];
            z[i] = data[1][row];
        }
        return Map.of("xy", Nd4j.createFromArray(xy), "z", Nd4j.createFromArray(z));
    }
}
