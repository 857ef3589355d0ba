package dev.steadyrun.orchestrator.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import tools.jackson.databind.node.JsonNodeFactory;

class RunSpecResolverTest {

    private final RunSpecResolver resolver = new RunSpecResolver("/ckpt");

    private static RunSpecRequest request(RunSpecRequest.Model model, RunSpecRequest.Data data,
                                          RunSpecRequest.Hyper hyper, Integer worldSize) {
        return new RunSpecRequest(null, model, data, hyper, worldSize, null, null, null, null, null, null);
    }

    private static RunSpecRequest.Model size(String size) {
        return new RunSpecRequest.Model(size, null, null, null, null, null);
    }

    private static final RunSpecRequest.Data EUROPARL = new RunSpecRequest.Data(null, "europarl");

    private static RunSpecRequest.Hyper hyper(Long batchTokens, Integer microBatch, Double lr) {
        return new RunSpecRequest.Hyper(lr, batchTokens, microBatch, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, null, null);
    }

    private List<String> fieldsOf(RunSpecRequest request) {
        try {
            resolver.resolve(request);
        } catch (InvalidRunSpecException e) {
            return e.errors().stream().map(InvalidRunSpecException.FieldError::field).toList();
        }
        throw new AssertionError("expected the spec to be refused");
    }

    @ParameterizedTest
    @CsvSource({
            "125M, 12, 12, 768, 6.0e-4, 524288",
            "350M, 24, 16, 1024, 3.0e-4, 524288",
            "760M, 24, 16, 1536, 2.5e-4, 524288",
            "1.3B, 24, 32, 2048, 2.0e-4, 1048576",
            "2.7B, 32, 32, 2560, 1.6e-4, 1048576",
            "6.7B, 32, 32, 4096, 1.2e-4, 2097152",
            "13B, 40, 40, 5120, 1.0e-4, 4194304",
            "30B, 48, 56, 7168, 1.0e-4, 4194304",
            "66B, 64, 72, 9216, 0.8e-4, 2097152",
            "175B, 96, 96, 12288, 1.2e-4, 2097152"})
    void namedSizesGetTheOptTable1Defaults(String size, int layers, int heads, int dModel, double lr, long batch) {
        RunSpec spec = resolver.resolve(request(size(size), EUROPARL, null, 1));
        assertThat(spec.model()).isEqualTo(new RunSpec.Model(size, layers, heads, dModel, 2048, 50272));
        RunSpec.Hyper h = spec.hyper();
        assertThat(h.lr()).isEqualTo(lr);
        assertThat(h.batchTokens()).isEqualTo(batch);
        assertThat(h.beta1()).isEqualTo(0.9);
        assertThat(h.beta2()).isEqualTo(0.95);
        assertThat(h.weightDecay()).isEqualTo(0.1);
        assertThat(h.clipNorm()).isEqualTo(1.0);
        assertThat(h.dropout()).isEqualTo(0.1);
        assertThat(h.decayTokens()).isEqualTo(300_000_000_000L);
        assertThat(h.finalLrRatio()).isEqualTo(0.1);
        assertThat(h.lossScaleInit()).isEqualTo(4.0);
        assertThat(h.lossScaleFactor()).isEqualTo(2.0);
        assertThat(h.lossScaleWindow()).isEqualTo(256);
        assertThat(h.lossScaleMin()).isEqualTo(1.0 / 32);
        assertThat(h.precision()).isEqualTo("fp16-emulated");
        assertThat(h.microBatch()).isEqualTo(1);
        assertThat(h.warmupSteps()).isEqualTo(size.equals("175B") ? 2000 : 0);
        assertThat(h.warmupTokens()).isEqualTo(size.equals("175B") ? 0 : 375_000_000L);
        assertThat(h.maxSteps()).isEqualTo((300_000_000_000L + batch - 1) / batch);
        assertThat(spec.checkpointInterval()).isEqualTo(1000);
    }

    @Test
    void overridesWinOverDefaults() {
        RunSpec spec = resolver.resolve(request(size("125M"), EUROPARL, hyper(1_048_576L, 4, 3e-4), 2));
        assertThat(spec.hyper().lr()).isEqualTo(3e-4);
        assertThat(spec.hyper().batchTokens()).isEqualTo(1_048_576L);
        assertThat(spec.hyper().microBatch()).isEqualTo(4);
        assertThat(spec.worldSize()).isEqualTo(2);
        assertThat(spec.checkpointLocation()).isEqualTo("/ckpt");
        assertThat(spec.recoveryPolicy().isObject()).isTrue();
    }

    @Test
    void explicitDimensionsTakeTheClosestSizesHyperParameters() {
        RunSpec spec = resolver.resolve(request(new RunSpecRequest.Model(null, 6, 8, 1000, 1024, null),
                new RunSpecRequest.Data("/data/shards", null), null, 1));
        assertThat(spec.model()).isEqualTo(new RunSpec.Model("custom", 6, 8, 1000, 1024, 50272));
        assertThat(spec.hyper().lr()).isEqualTo(3.0e-4); // 350M, d_model 1024
        assertThat(spec.data().trainerValue()).isEqualTo("/data/shards");
        assertThat(TrainerConfig.of(spec)).containsEntry("model", "350M").containsEntry("dModel", "1000");
    }

    @Test
    void smallSizesWarmUpInSteps() {
        RunSpec spec = resolver.resolve(request(size("tiny"), EUROPARL, null, 1));
        assertThat(spec.hyper().precision()).isEqualTo("fp32");
        assertThat(spec.hyper().warmupSteps()).isEqualTo(10);
        assertThat(spec.hyper().decayTokens()).isEqualTo(20_000_000L);
        assertThat(spec.hyper().microBatch()).isEqualTo(8);
        assertThat(spec.hyper().maxSteps()).isEqualTo(19_532); // ceil(20M / 1024): the end of the decay
        assertThat(spec.checkpointInterval()).isEqualTo(100);
        // two ranks take 4 sequences each: the micro-batch shrinks to fit
        assertThat(resolver.resolve(request(size("tiny"), EUROPARL, null, 2)).hyper().microBatch()).isEqualTo(4);
    }

    @Test
    void worldSizeMustBePositive() {
        assertThat(fieldsOf(request(size("125M"), EUROPARL, null, 0))).containsExactly("worldSize");
        assertThat(fieldsOf(request(size("125M"), EUROPARL, null, -3))).containsExactly("worldSize");
        assertThat(fieldsOf(request(size("125M"), EUROPARL, null, null))).containsExactly("worldSize");
    }

    @Test
    void modelMustBeASizeOrDimensionsNotBoth() {
        assertThat(fieldsOf(request(size("7B"), EUROPARL, null, 1))).containsExactly("model.size");
        assertThat(fieldsOf(request(new RunSpecRequest.Model("125M", 2, null, null, null, null), EUROPARL, null, 1)))
                .containsExactly("model");
        assertThat(fieldsOf(request(new RunSpecRequest.Model(null, 2, 3, 128, null, null), EUROPARL, null, 1)))
                .containsExactly("model.dModel");
        assertThat(fieldsOf(request(new RunSpecRequest.Model(null, 0, 4, null, null, null), EUROPARL, null, 1)))
                .containsExactly("model.layers", "model.dModel");
        assertThat(fieldsOf(request(null, EUROPARL, null, 1))).containsExactly("model");
    }

    @Test
    void dataMustBeExactlyOneKnownSource() {
        assertThat(fieldsOf(request(size("tiny"), null, null, 1))).containsExactly("data");
        assertThat(fieldsOf(request(size("tiny"), new RunSpecRequest.Data("/x", "europarl"), null, 1)))
                .containsExactly("data");
        assertThat(fieldsOf(request(size("tiny"), new RunSpecRequest.Data(null, "wikipedia"), null, 1)))
                .containsExactly("data.sample");
    }

    @Test
    void batchMustSplitIntoWholeSequencesPerRank() {
        assertThat(fieldsOf(request(size("125M"), EUROPARL, null, 3))).containsExactly("hyper.batchTokens");
        RunSpecRequest.Hyper longWarmup = new RunSpecRequest.Hyper(null, null, null, null, null, null, null, null,
                400_000_000_000L, null, null, null, null, null, null, null, null, null, null);
        assertThat(fieldsOf(request(size("125M"), EUROPARL, longWarmup, 1))).containsExactly("hyper.warmupTokens");
        assertThat(fieldsOf(request(size("125M"), EUROPARL, hyper(null, 3, null), 1)))
                .containsExactly("hyper.microBatch");
    }

    @Test
    void everyBadFieldIsReportedAtOnce() {
        RunSpecRequest.Hyper bad = new RunSpecRequest.Hyper(-1.0, null, null, 1.0, 0.95, -0.1, 0.0, -1L, null, 0L,
                2.0, 1.0, 4.0, 1.0, 0, 8.0, "bf16", null, 0L);
        RunSpecRequest req = new RunSpecRequest("", size("125M"), EUROPARL, bad, 1, -1, 0L, " ",
                JsonNodeFactory.instance.arrayNode(), Map.of("rack", " "), new RunSpecRequest.Program("Bad Name", null));
        assertThat(fieldsOf(req)).containsExactlyInAnyOrder("name", "program.name", "program.version", "spares",
                "checkpointInterval",
                "checkpointLocation", "recoveryPolicy", "nodeSelector.rack", "hyper.lr", "hyper.beta1", "hyper.weightDecay",
                "hyper.clipNorm", "hyper.warmupSteps", "hyper.decayTokens", "hyper.maxSteps", "hyper.finalLrRatio", "hyper.dropout", "hyper.lossScaleFactor",
                "hyper.lossScaleWindow", "hyper.lossScaleMin", "hyper.precision");
    }

    @Test
    void nonFiniteNumbersAreRefused() {
        assertThat(fieldsOf(request(size("125M"), EUROPARL, hyper(null, null, Double.NaN), 1)))
                .containsExactly("hyper.lr");
    }

    @Test
    void trainerConfigCarriesTheAgreedKeys() {
        RunSpec spec = resolver.resolve(request(size("tiny"), EUROPARL, null, 1));
        assertThat(TrainerConfig.of(spec)).containsKeys("model", "layers", "heads", "dModel", "seqLen", "vocab",
                        "lr", "batchTokens", "microBatch", "clipNorm", "weightDecay", "warmupTokens", "decayTokens",
                        "dropout", "precision", "seed", "checkpointInterval", "data")
                .containsEntry("model", "tiny").containsEntry("data", "europarl").containsEntry("warmupSteps", "10")
                .containsEntry("lr", Double.toString(spec.hyper().lr()));
    }

    @Test
    void aMissingBodyIsRefused() {
        assertThatThrownBy(() -> resolver.resolve(null)).isInstanceOf(InvalidRunSpecException.class);
    }
}
