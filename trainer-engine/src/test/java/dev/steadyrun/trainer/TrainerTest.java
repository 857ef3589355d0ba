package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.trainer.checkpoint.CheckpointContent;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.trainer.data.DemoData;

/** The training loop on real text (the Europarl sample), with a small model so the whole class runs in seconds. */
class TrainerTest {

    static Path data;

    @BeforeAll
    static void prepareData() {
        data = DemoData.ensurePrepared(Path.of("target", "test-europarl").toAbsolutePath());
    }

    /** A small OPT-shaped model on the real 50,272-token vocabulary: 2 micro-batches of 4×32 tokens per step. */
    static Map<String, String> small(String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>(Map.of("model", "tiny", "dModel", "64", "heads", "2",
                "seqLen", "32", "microBatch", "4", "batchTokens", "256", "lr", "3e-3", "warmupSteps", "3",
                "decayTokens", "1000000", "checkpointInterval", "1000"));
        m.put("data", data.toString());
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    record Run(Trainer trainer, List<StepMetrics> steps, List<CheckpointWritten> checkpoints) {
    }

    static Run train(Path dir, Map<String, String> config, String restore, RestartKnobs knobs) throws Exception {
        List<TrainerLine> lines = new ArrayList<>();
        Trainer t = new Trainer(l -> {
            synchronized (lines) {
                lines.add(l);
            }
        });
        t.run(config, new Trainer.Launch(dir, restore, knobs, 0, 1, 0));
        synchronized (lines) {
            return new Run(t, lines.stream().filter(StepMetrics.class::isInstance).map(StepMetrics.class::cast).toList(),
                    lines.stream().filter(CheckpointWritten.class::isInstance).map(CheckpointWritten.class::cast).toList());
        }
    }

    @Test
    void lossFallsOnRealText(@TempDir Path dir) throws Exception {
        Run run = train(dir, small("maxSteps", "40"), null, null);
        List<Double> losses = run.steps().stream().map(StepMetrics::loss).toList();
        double first = losses.get(0);
        double last = losses.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        System.err.println("loss " + first + " -> " + last);
        assertThat(first).isCloseTo(Math.log(50_272), org.assertj.core.data.Offset.offset(0.1));
        assertThat(last).isLessThan(first - 2.5);
        assertThat(run.steps()).extracting(StepMetrics::step).startsWith(1L, 2L, 3L).endsWith(40L);
        StepMetrics s = run.steps().get(10);
        assertThat(s.tokensSeen()).isEqualTo(11 * 256);
        assertThat(s.gradNorm()).isPositive().isFinite();
        assertThat(s.lossScale()).isEqualTo(1.0);
        assertThat(s.activationNorms()).hasSize(2).allSatisfy(n -> assertThat(n).isPositive());
        assertThat(s.rssBytes()).isPositive();
        assertThat(run.checkpoints()).singleElement().satisfies(c -> {
            assertThat(c.step()).isEqualTo(40);
            assertThat(c.lossScale()).isEqualTo(1.0);   // fp32: no scaling
            assertThat(c.loss()).isEqualTo(run.steps().get(39).loss());
        });
    }

    /** N steps straight vs k steps, stop, resume, N−k steps: identical loss bits and parameters. */
    @Test
    void resumeIsBitExact(@TempDir Path dir) throws Exception {
        Map<String, String> config = small("precision", "fp16-emulated", "lossScaleWindow", "2", "maxSteps", "6");
        Run straight = train(dir.resolve("a"), config, null, null);

        Map<String, String> firstHalf = new LinkedHashMap<>(config);
        firstHalf.put("maxSteps", "3");
        train(dir.resolve("b"), firstHalf, null, null);
        Run resumed = train(dir.resolve("b"), Map.of("maxSteps", "6"), "latest", null);

        assertThat(resumed.steps()).extracting(StepMetrics::step).containsExactly(4L, 5L, 6L);
        for (int i = 0; i < 3; i++) {
            StepMetrics a = straight.steps().get(3 + i);
            StepMetrics b = resumed.steps().get(i);
            assertThat(Double.doubleToRawLongBits(b.loss())).as("loss bits at step %d", a.step())
                    .isEqualTo(Double.doubleToRawLongBits(a.loss()));
            assertThat(b.gradNorm()).isEqualTo(a.gradNorm());
            assertThat(b.lossScale()).isEqualTo(a.lossScale());
            assertThat(b.lr()).isEqualTo(a.lr());
        }
        // the loss scale did move (window 2), so the scaler state really was restored
        assertThat(straight.steps().get(5).lossScale()).isGreaterThan(straight.steps().get(0).lossScale());
        assertThat(hash(resumed.trainer().model().params())).isEqualTo(hash(straight.trainer().model().params()));
        CheckpointContent a = CheckpointStore.load(dir.resolve("a").resolve(CheckpointStore.dirName(6)));
        CheckpointContent b = CheckpointStore.load(dir.resolve("b").resolve(CheckpointStore.dirName(6)));
        assertThat(hash(b.arrays())).isEqualTo(hash(a.arrays()));   // Adam moments too
    }

    static List<String> hash(Map<String, INDArray> arrays) {
        return arrays.entrySet().stream()
                .map(e -> e.getKey() + ":" + Arrays.hashCode(e.getValue().dup().data().asBytes()))
                .toList();
    }

    @Test
    void knobsAreAppliedAndRecordedInTheHistory(@TempDir Path dir) throws Exception {
        train(dir, small("maxSteps", "2"), null, null);
        RestartKnobs knobs = new RestartKnobs(0.5, null, 0.3, true, 1, "sgd");
        Run run = train(dir, Map.of("maxSteps", "3"), "latest", knobs);

        TrainConfig config = TrainConfig.fromMap(small());
        double scheduled = config.lrSchedule(config.lr()).at(2, 2 * 256);
        assertThat(run.steps()).singleElement().satisfies(s -> assertThat(s.lr()).isEqualTo(0.5 * scheduled));
        TrainState state = TrainState.fromJson(CheckpointStore.load(dir.resolve(CheckpointStore.dirName(3))).stateJson());
        assertThat(state.knobHistory()).extracting(TrainState.KnobRecord::knob)
                .containsExactly("lrMultiplier", "clipNorm", "resetLossScaler", "skipBatches", "optimizer");
        assertThat(state.knobHistory()).allSatisfy(k -> assertThat(k.step()).isEqualTo(2));
        assertThat(state.lrMultiplier()).isEqualTo(0.5);
        assertThat(state.clipNormOverride()).isEqualTo(0.3);
        assertThat(state.optimizerOverride()).isEqualTo("sgd");
        assertThat(state.adamSteps()).isEqualTo(2);   // the SGD step did not touch Adam's count

        // a second restart multiplies again and appends, and an override replaces the peak
        train(dir, Map.of("maxSteps", "4"), "latest", new RestartKnobs(0.5, 1e-3, null, false, 0, "adamw"));
        TrainState later = TrainState.fromJson(CheckpointStore.load(dir.resolve(CheckpointStore.dirName(4))).stateJson());
        assertThat(later.lrMultiplier()).isEqualTo(0.25);
        assertThat(later.peakLrOverride()).isEqualTo(1e-3);
        assertThat(later.knobHistory()).hasSize(8);
        assertThat(later.adamSteps()).isEqualTo(3);
    }

    /** A loss scale far too large: FP16 overflow skips the step and halves the scale until it fits. */
    @Test
    void fp16OverflowSkipsTheStepAndShrinksTheScale(@TempDir Path dir) throws Exception {
        Run run = train(dir, small("precision", "fp16-emulated", "lossScaleInit", "1e12", "maxSteps", "4"), null, null);
        assertThat(run.steps()).allSatisfy(s -> assertThat(s.overflow()).isTrue());
        assertThat(run.steps()).extracting(StepMetrics::lossScale).containsExactly(1e12, 5e11, 2.5e11, 1.25e11);
        TrainState state = run.trainer().state();
        assertThat(state.adamSteps()).isZero();
        assertThat(state.lossScaler().overflows()).isEqualTo(4);
        assertThat(state.lossScaler().scale()).isEqualTo(6.25e10);
    }

    /** Test tool: an LR far too high from step k makes the run diverge, visibly in the metrics. */
    @Test
    void divergenceKnobMakesTheRunDiverge(@TempDir Path dir) throws Exception {
        List<StepMetrics> seen = new ArrayList<>();
        Trainer t = new Trainer(l -> {
            if (l instanceof StepMetrics s) {
                seen.add(s);
            }
        });
        Map<String, String> config = small("precision", "fp16-emulated", "maxSteps", "30", "debugDivergeAtStep", "3",
                "debugDivergeLrFactor", "1e5");
        Throwable thrown = null;
        try {
            t.run(config, new Trainer.Launch(dir, null, null, 0, 1, 0));
        } catch (Trainer.DivergedException e) {
            thrown = e;
        }
        System.err.println("divergence: " + seen.stream().map(s -> s.loss() + "@" + s.lossScale() + (s.overflow() ? "!" : "")).toList());
        assertThat(seen.subList(0, 3)).allSatisfy(s -> assertThat(s.loss()).isFinite().isLessThan(11.5));
        boolean lossBlewUp = thrown != null && !Double.isFinite(seen.get(seen.size() - 1).loss());
        boolean scaleCollapsed = seen.get(seen.size() - 1).lossScale() < seen.get(2).lossScale()
                && seen.stream().anyMatch(StepMetrics::overflow);
        boolean lossExploded = seen.stream().skip(3).anyMatch(s -> s.loss() > 3 * seen.get(2).loss());
        assertThat(lossBlewUp || scaleCollapsed || lossExploded).as("diverged").isTrue();
    }

    @Test
    void corruptCheckpointIsRefusedAndLatestFallsBack(@TempDir Path dir) throws Exception {
        train(dir, small("maxSteps", "4", "checkpointInterval", "2"), null, null);
        Path newest = dir.resolve(CheckpointStore.dirName(4));
        Path victim;
        try (Stream<Path> files = Files.list(newest)) {
            victim = files.filter(f -> f.getFileName().toString().equals(CheckpointPaths.shardFile("param", 0, 0)))
                    .findFirst().orElseThrow();
        }
        flipAByte(victim);

        assertThatThrownBy(() -> train(dir, Map.of("maxSteps", "5"), newest.toString(), null))
                .isInstanceOf(CorruptCheckpointException.class)
                .hasMessageContaining(victim.getFileName().toString());
        Run fallback = train(dir, Map.of("maxSteps", "5"), "latest", null);
        assertThat(fallback.steps()).extracting(StepMetrics::step).containsExactly(3L, 4L, 5L);
    }

    /**
     * The orchestrator's record of the manifest's SHA-256 is what makes a checkpoint trustworthy: one whose array was
     * swapped together with the manifest's sum for it verifies on its own, and is refused when the recorded sum is
     * given; the genuine one restores with it.
     */
    @Test
    void restoreRefusesAManifestOtherThanTheOneItsWriterReported(@TempDir Path dir) throws Exception {
        Run first = train(dir, small("maxSteps", "2", "checkpointInterval", "1"), null, null);
        Path one = dir.resolve(CheckpointStore.dirName(1));
        String recorded = first.checkpoints().get(0).manifestSha256();
        assertThat(recorded).isEqualTo(CheckpointStore.manifestSha256(one));

        Path planted = dir.resolve(CheckpointStore.dirName(2));
        String plantedSha = first.checkpoints().get(1).manifestSha256();
        replaceArraySelfConsistently(planted, CheckpointPaths.shardFile("param", 0, 0));
        CheckpointStore.verify(planted);   // the planted checkpoint is consistent in itself
        assertThatThrownBy(() -> new Trainer(l -> { }).run(Map.of("maxSteps", "3"),
                new Trainer.Launch(dir, planted.toString(), plantedSha, null, 0, 1, 2, null, null, null)))
                .isInstanceOf(CorruptCheckpointException.class)
                .isNotInstanceOf(dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException.class)
                .hasMessageContaining("manifest.json").hasMessageContaining(plantedSha);

        Files.writeString(dir.resolve(CheckpointPin.FILE), "1\n"); // the stopped generation's pin of its restore point
        List<TrainerLine> resumed = new ArrayList<>();
        new Trainer(resumed::add).run(Map.of("maxSteps", "2"), new Trainer.Launch(dir, one.toString(), recorded, null,
                0, 1, 1, null, null, null));
        assertThat(resumed).filteredOn(StepMetrics.class::isInstance).extracting(l -> ((StepMetrics) l).step())
                .containsExactly(2L);
        assertThat(dir.resolve(CheckpointPin.FILE)).as("the restore is done: nothing stays pinned").doesNotExist();
    }

    /** Changes one array file and writes its new sum into the manifest, as someone with write access to the store could. */
    static void replaceArraySelfConsistently(Path checkpoint, String arrayNamePart) throws Exception {
        Path victim;
        try (Stream<Path> files = Files.list(checkpoint)) {
            victim = files.filter(f -> f.getFileName().toString().contains(arrayNamePart)).findFirst().orElseThrow();
        }
        flipAByte(victim);
        String sum = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(victim)));
        Path manifest = checkpoint.resolve("manifest.json");
        var json = tools.jackson.databind.json.JsonMapper.builder().build();
        var tree = (tools.jackson.databind.node.ObjectNode) json.readTree(manifest.toFile());
        for (var entry : tree.get("files")) {
            if (entry.get("name").asString().equals(victim.getFileName().toString())) {
                ((tools.jackson.databind.node.ObjectNode) entry).put("sha256", sum);
            }
        }
        Files.write(manifest, json.writeValueAsBytes(tree));
    }

    static void flipAByte(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x5A;
        Files.write(file, bytes);
    }

    @Test
    void restoreRefusesADifferentArchitecture(@TempDir Path dir) throws Exception {
        train(dir, small("maxSteps", "1"), null, null);
        assertThatThrownBy(() -> train(dir, Map.of("layers", "3", "maxSteps", "2"), "latest", null))
                .isInstanceOf(TrainConfig.InvalidConfigException.class)
                .hasMessageContaining("cannot change on restore");
    }
}
