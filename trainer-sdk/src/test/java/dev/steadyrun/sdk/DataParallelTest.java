package dev.steadyrun.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import dev.steadyrun.collectives.PeerLostException;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;

/**
 * Two ranks over the real ring (each rank a session on its own thread, real sockets, the ring secret) against one
 * rank with the same global batch, through {@link TrainingSession} and {@link MultiLayerNetworkAdapter}.
 */
class DataParallelTest {

    private static final int GLOBAL_BATCH = 16;
    private static final double LR = 0.01;
    private static final double CLIP = 1.0;
    private static final DataSet DATA = data();

    /** What one rank's launch printed and ended with. */
    private record Outcome(List<StepMetrics> steps, List<CheckpointWritten> checkpoints, INDArray params,
                           Throwable failure) {
    }

    @Test
    void twoRanksTakeTheStepsOfOneRankWithTheSameGlobalBatch(@TempDir Path dir) throws Exception {
        Outcome one = launch(1, dir.resolve("one"), 1, null, List.of()).get(0);
        List<Outcome> two = launch(2, dir.resolve("two"), 1, null, List.of());

        assertThat(one.failure()).isNull();
        for (Outcome rank : two) {
            assertThat(rank.failure()).isNull();
            assertThat(rank.steps()).hasSize(4);
        }
        for (int i = 0; i < 4; i++) {
            StepMetrics alone = one.steps().get(i);
            StepMetrics r0 = two.get(0).steps().get(i);
            StepMetrics r1 = two.get(1).steps().get(i);
            assertThat(r0.step()).isEqualTo(alone.step());
            assertThat(r0.tokensSeen()).as("the global batch counts").isEqualTo(alone.tokensSeen());
            assertThat(r0.loss()).as("step %d's loss: the mean over the global batch", i + 1)
                    .isCloseTo(alone.loss(), within(1e-5 * Math.max(1, Math.abs(alone.loss()))));
            assertThat(r0.gradNorm()).as("step %d's gradient norm, after the average", i + 1)
                    .isCloseTo(alone.gradNorm(), within(1e-5 * Math.max(1, alone.gradNorm())));
            assertThat(r1.loss()).as("both ranks print the agreed loss").isEqualTo(r0.loss());
            assertThat(r1.gradNorm()).isEqualTo(r0.gradNorm());
        }
        assertThat(two.get(1).params()).as("every rank holds the same parameters, bit for bit")
                .isEqualTo(two.get(0).params());
        double diff = two.get(0).params().sub(one.params()).amaxNumber().doubleValue();
        assertThat(diff).as("the parameters after 4 steps, 2 ranks against 1").isLessThan(1e-5);
        assertThat(two.get(1).checkpoints()).as("rank 0 alone writes checkpoints").isEmpty();
        assertThat(two.get(0).checkpoints()).extracting(CheckpointWritten::step).containsExactly(2L, 4L);
    }

    @Test
    void aRestoreGivesEveryRankTheSameStateAndKnobs(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        List<Outcome> straight = launch(2, run, 1, null, List.of());
        CheckpointWritten first = straight.get(0).checkpoints().get(0);

        List<Outcome> restored = launch(2, run, 2, first, List.of("--knob", "lrMultiplier=0.5"));
        for (Outcome rank : restored) {
            assertThat(rank.failure()).isNull();
            StepMetrics next = rank.steps().get(0);
            assertThat(next.step()).isEqualTo(first.step() + 1);
            assertThat(next.loss()).as("the restored step continues the straight run exactly")
                    .isEqualTo(straight.get(0).steps().get((int) first.step()).loss());
            assertThat(next.lr()).as("the knob, on every rank").isEqualTo(0.5 * LR);
        }
        assertThat(restored.get(1).params()).isEqualTo(restored.get(0).params());
    }

    @Test
    void aStopOnOneRankEndsEveryRankAfterTheStepTheOthersAsPeerLost(@TempDir Path dir) throws Exception {
        List<Outcome> two = launch(2, dir.resolve("stop"), 1, null, List.of(), 1);
        assertThat(two.get(1).failure()).as("the rank that was stopped ends normally (the JVM exits 143)").isNull();
        assertThat(two.get(0).failure()).as("the other one did not finish").isInstanceOf(PeerLostException.class);
        assertThat(TrainingSession.exitCode(two.get(0).failure())).isEqualTo(5);
        assertThat(two.get(0).steps()).as("no step after the agreed stop").isEmpty();
    }

    @Test
    void aChaosDivergeReadByOneRankRaisesTheLearningRateOfEveryRankForThisLaunchOnly(@TempDir Path dir)
            throws Exception {
        Path faults = dir.resolve("fault-rank0");
        Files.writeString(faults, "diverge\n");
        List<Outcome> two = launch(2, dir.resolve("chaos"), 1, null, List.of("--set", "debugDivergeLrFactor=1000"),
                -1, faults);
        for (Outcome rank : two) {
            assertThat(rank.steps()).extracting(StepMetrics::lr).as("agreed over the ring from the first step")
                    .containsOnly(LR * 1000);
        }
        assertThat(faults).as("taken once").doesNotExist();
        assertThat(two.get(1).params()).isEqualTo(two.get(0).params());

        CheckpointWritten written = two.get(0).checkpoints().get(0);
        List<Outcome> again = launch(2, dir.resolve("chaos"), 2, written, List.of());
        assertThat(again.get(0).steps()).extracting(StepMetrics::lr).as("not saved in the checkpoint")
                .containsOnly(LR);
    }

    private static List<Outcome> launch(int world, Path checkpoints, long generation, CheckpointWritten restore,
                                        List<String> extra) throws Exception {
        return launch(world, checkpoints, generation, restore, extra, -1, null);
    }

    private static List<Outcome> launch(int world, Path checkpoints, long generation, CheckpointWritten restore,
                                        List<String> extra, int stopped) throws Exception {
        return launch(world, checkpoints, generation, restore, extra, stopped, null);
    }

    /**
     * Runs {@code world} ranks of one generation, each on its own thread; {@code stopped}: a rank with SIGTERM;
     * {@code rank0Faults}: rank 0's fault file, or null.
     */
    private static List<Outcome> launch(int world, Path checkpoints, long generation, CheckpointWritten restore,
                                        List<String> extra, int stopped, Path rank0Faults) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        RingSecret secret = RingSecret.random();
        String runId = UUID.randomUUID().toString();
        List<CompletableFuture<Outcome>> ranks = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            List<String> argv = new ArrayList<>(List.of("train", "--set", "maxSteps=4", "--set",
                    "checkpointInterval=2", "--set", "peerTimeoutSeconds=30", "--checkpoint-dir",
                    checkpoints.toString(), "--rank", String.valueOf(r), "--world-size", String.valueOf(world),
                    "--generation", String.valueOf(generation), "--run-id", runId, "--rendezvous",
                    "127.0.0.1:" + port));
            if (restore != null) {
                argv.addAll(List.of("--restore", restore.path(), "--restore-sha256", restore.manifestSha256()));
            }
            argv.addAll(extra);
            boolean stop = r == stopped;
            Path faults = r == 0 ? rank0Faults : null;
            ranks.add(CompletableFuture.supplyAsync(() -> rank(argv, secret, stop, faults)));
        }
        List<Outcome> out = new ArrayList<>();
        for (CompletableFuture<Outcome> f : ranks) {
            out.add(f.get(3, TimeUnit.MINUTES));
        }
        return out;
    }

    private static Outcome rank(List<String> argv, RingSecret secret, boolean stopped, Path faults) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        INDArray[] params = new INDArray[1];
        Throwable failure = null;
        try (TrainingSession session = new TrainingSession(TrainerArgs.parse(argv.toArray(String[]::new), null),
                secret, faults, out, new AtomicBoolean(stopped))) {
            session.train(s -> params[0] = train(s));
        } catch (Throwable e) {
            failure = e;
        }
        List<StepMetrics> steps = new ArrayList<>();
        List<CheckpointWritten> checkpoints = new ArrayList<>();
        for (String line : bytes.toString(StandardCharsets.UTF_8).split("\n")) {
            TrainerLine parsed = TrainerLines.parse(line).orElse(null);
            if (parsed instanceof StepMetrics m) {
                steps.add(m);
            } else if (parsed instanceof CheckpointWritten c) {
                checkpoints.add(c);
            }
        }
        return new Outcome(steps, checkpoints, params[0], failure);
    }

    /**
     * The program's loop, the SDK's own ({@link ModelAdapter#train}); each rank initializes differently, so only the
     * broadcast makes them start alike.
     */
    private static INDArray train(TrainingSession session) throws Exception {
        MultiLayerNetwork net = network(7 + session.dataParallel().rank());
        new MultiLayerNetworkAdapter(net).train(session, GLOBAL_BATCH, DataParallelTest::batch, LR, CLIP,
                GLOBAL_BATCH);
        return net.params().dup();
    }

    /** The examples a slice names, running through {@link #DATA} again and again. */
    private static DataSet batch(TrainingSession.Slice slice) {
        int[] rows = new int[slice.count()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (int) ((slice.first() + i) % DATA.numExamples());
        }
        return new DataSet(DATA.getFeatures().getRows(rows), DATA.getLabels().getRows(rows));
    }

    private static MultiLayerNetwork network(long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).updater(new Adam(LR))
                .list()
                .layer(new DenseLayer.Builder().nIn(2).nOut(16).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        return net;
    }

    private static DataSet data() {
        Nd4j.getRandom().setSeed(3);
        INDArray features = Nd4j.rand(DataType.FLOAT, 64, 2).subi(0.5);
        INDArray labels = Nd4j.zeros(DataType.FLOAT, 64, 3);
        for (int i = 0; i < 64; i++) {
            labels.putScalar(i, i % 3, 1);
        }
        return new DataSet(features, labels);
    }
}
