package dev.steadyrun.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.RestartKnobs;

class TrainerArgsTest {

    @Test
    void readsTheAgentsCommandLine() {
        RestartKnobs knobs = new RestartKnobs(0.5, null, 0.3, true, 20, null);
        List<String> argv = new ArrayList<>(List.of("train", "--set", "lr=0.01", "--set", "note=a=b",
                "--checkpoint-dir", "/ck", "--restore", "/ck/step-00000004", "--restore-sha256", "ab"));
        argv.addAll(knobs.toArgs());
        argv.addAll(List.of("--rank", "0", "--world-size", "1", "--generation", "3", "--run-id", "r1"));

        TrainerArgs a = TrainerArgs.parse(argv.toArray(String[]::new), "1");
        assertThat(a.config()).containsEntry("lr", "0.01").containsEntry("note", "a=b");
        assertThat(a.real("lr", 1)).isEqualTo(0.01);
        assertThat(a.longValue("maxSteps", 5)).isEqualTo(5);
        assertThat(a.checkpointDir()).isEqualTo(Path.of("/ck"));
        assertThat(a.restore()).isEqualTo(Path.of("/ck/step-00000004"));
        assertThat(a.restoreSha256()).isEqualTo("ab");
        assertThat(a.knobs()).isEqualTo(knobs);
        assertThat(a.generation()).isEqualTo(3);
        assertThat(a.runId()).isEqualTo("r1");
    }

    @Test
    void refusesWhatItCannotReadNamingIt() {
        assertThatThrownBy(() -> TrainerArgs.parse(new String[] {"train", "--checkpoint-dir", "/c"}, "2"))
                .hasMessageContaining("STEADYRUN_TRAINER_PROTOCOL");
        assertThatThrownBy(() -> TrainerArgs.parse(new String[] {"train", "--checkpoint-dir", "/c", "--knob",
                "lrMultiplier=99"}, "1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--knob lrMultiplier");
        assertThatThrownBy(() -> TrainerArgs.parse(new String[] {"train", "--bogus", "1"}, null))
                .hasMessageContaining("--bogus");
        assertThatThrownBy(() -> TrainerArgs.parse(new String[] {"train"}, null))
                .hasMessageContaining("--checkpoint-dir");
        assertThatThrownBy(() -> TrainerArgs.parse(new String[] {"train", "--checkpoint-dir", "/c", "--set", "lr=x"},
                null).real("lr", 1)).hasMessageContaining("lr");
    }

    @Test
    void sizesAndRatesMustBeAboveZero() {
        TrainerArgs a = TrainerArgs.parse(new String[] {"train", "--checkpoint-dir", "/c", "--set", "hidden=64",
                "--set", "lr=0.5", "--set", "zero=0", "--set", "huge=3000000000", "--set", "negative=-1e-3"}, null);
        assertThat(a.positiveInt("hidden", 1)).isEqualTo(64);
        assertThat(a.positiveInt("chars", 32)).isEqualTo(32);
        assertThat(a.positiveReal("lr", 1)).isEqualTo(0.5);
        assertThatThrownBy(() -> a.positiveInt("zero", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("zero: must be a whole number from 1");
        assertThatThrownBy(() -> a.positiveInt("huge", 1)).hasMessageStartingWith("huge:");
        assertThatThrownBy(() -> a.positiveReal("negative", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("negative: must be above 0, was -0.001");
        assertThatThrownBy(() -> a.positiveReal("zero", 1)).hasMessageStartingWith("zero:");
    }

    @Test
    void knobsAccumulateAndTheOptimizerKnobIsRefused() {
        KnobsInForce k = KnobsInForce.NONE.apply(new RestartKnobs(0.5, null, 0.3, false, 0, null), 10, 2)
                .apply(new RestartKnobs(0.5, null, null, true, 0, null), 20, 3);
        assertThat(k.lrMultiplier()).isEqualTo(0.25);
        assertThat(k.clipNorm()).isEqualTo(0.3);
        assertThat(k.history()).extracting(KnobsInForce.Applied::knob)
                .containsExactly("lrMultiplier", "clipNorm", "lrMultiplier", "resetLossScaler");
        assertThatThrownBy(() -> KnobsInForce.NONE.apply(new RestartKnobs(null, null, null, false, 0, "sgd"), 1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("optimizer");
    }
}
