package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {

    @Test
    void defaultsAreTheOptRecipe() {
        TrainConfig c = TrainConfig.fromMap(Map.of("model", "125M"));
        assertThat(c.layers()).isEqualTo(12);
        assertThat(c.dModel()).isEqualTo(768);
        assertThat(c.seqLen()).isEqualTo(2048);
        assertThat(c.vocab()).isEqualTo(50_272);
        assertThat(c.lr()).isEqualTo(6e-4);
        assertThat(c.batchTokens()).isEqualTo(512 * 1024);
        assertThat(c.beta1()).isEqualTo(0.9);
        assertThat(c.beta2()).isEqualTo(0.95);
        assertThat(c.weightDecay()).isEqualTo(0.1);
        assertThat(c.clipNorm()).isEqualTo(1.0);
        assertThat(c.dropout()).isEqualTo(0.1);
        assertThat(c.warmupTokens()).isEqualTo(375_000_000L);
        assertThat(c.decayTokens()).isEqualTo(300_000_000_000L);
        assertThat(c.finalLrRatio()).isEqualTo(0.1);
        assertThat(c.lossScaleInit()).isEqualTo(4);
        assertThat(c.lossScaleFactor()).isEqualTo(2);
        assertThat(c.lossScaleWindow()).isEqualTo(256);
        assertThat(c.lossScaleMin()).isEqualTo(Math.pow(2, -5));
        assertThat(c.optimizer()).isEqualTo("adamw");
        assertThat(c.accumulationSteps()).isEqualTo(256);
        assertThat(TrainConfig.defaults().model()).isEqualTo("tiny");
    }

    @Test
    void explicitKeysOverrideTheSizeDefaults() {
        TrainConfig c = TrainConfig.fromMap(Map.of("model", "tiny", "layers", "3", "lr", "2e-3",
                "precision", "FP16-emulated", "decayTokens", "1e9"));
        assertThat(c.layers()).isEqualTo(3);
        assertThat(c.heads()).isEqualTo(ModelSize.TINY.heads);
        assertThat(c.lr()).isEqualTo(2e-3);
        assertThat(c.precision()).isEqualTo(TrainConfig.Precision.FP16_EMULATED);
        assertThat(c.decayTokens()).isEqualTo(1_000_000_000L);
    }

    @Test
    void everyBadValueIsReportedWithItsKey() {
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("lr", "fast", "dropout", "1.5", "precision", "fp8",
                "bogus", "1")))
                .isInstanceOf(TrainConfig.InvalidConfigException.class)
                .hasMessageContaining("lr: not a valid number: 'fast'")
                .hasMessageContaining("precision: must be fp32 or fp16-emulated, was 'fp8'")
                .hasMessageContaining("bogus: unknown key");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("dropout", "1.5")))
                .hasMessageContaining("dropout: must be in [0, 1), was 1.5");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("dModel", "100", "heads", "3")))
                .hasMessageContaining("dModel: must be a positive multiple of heads (3), was 100");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("batchTokens", "1000")))
                .hasMessageContaining("batchTokens: must be a positive multiple of microBatch·seqLen (1024)");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("model", "7B")))
                .hasMessageContaining("model must be one of");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("optimizer", "lion")))
                .hasMessageContaining("optimizer: must be adamw or sgd");
        assertThatThrownBy(() -> TrainConfig.fromMap(Map.of("lossScaleMin", "8")))
                .hasMessageContaining("lossScaleMin: must be in (0, lossScaleInit]");
    }

    @Test
    void loadsJsonAndPropertiesFilesWithOverrides(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("run.json");
        Files.writeString(json, "{\"model\": \"demo\", \"lr\": 0.001, \"maxSteps\": 50, \"data\": \"/data/x\"}");
        TrainConfig a = TrainConfig.load(json, List.of("maxSteps=70", "seed=9"));
        assertThat(a.layers()).isEqualTo(ModelSize.DEMO.layers);
        assertThat(a.lr()).isEqualTo(0.001);
        assertThat(a.maxSteps()).isEqualTo(70);
        assertThat(a.seed()).isEqualTo(9);
        assertThat(a.data()).isEqualTo("/data/x");

        Path props = dir.resolve("run.properties");
        Files.writeString(props, "model=tiny\nclipNorm=0.3\n");
        assertThat(TrainConfig.load(props, List.of()).clipNorm()).isEqualTo(0.3);

        assertThatThrownBy(() -> TrainConfig.load(null, List.of("lr")))
                .hasMessageContaining("--set expects key=value, got 'lr'");
        Files.writeString(json, "[1, 2]");
        assertThatThrownBy(() -> TrainConfig.load(json, List.of())).hasMessageContaining("one JSON object");
    }

    @Test
    void savedConfigReloadsEqual() {
        TrainConfig c = TrainConfig.fromMap(Map.of("model", "350M", "lr", "1.5e-4", "precision", "fp16-emulated",
                "debugDivergeAtStep", "7"));
        assertThat(TrainConfig.fromMap(c.toMap())).isEqualTo(c);
        assertThat(TrainConfig.fromJson(c.toJson())).isEqualTo(c);
        assertThat(c.toMap().keySet()).containsExactlyElementsOf(TrainConfig.KEYS);
    }
}
