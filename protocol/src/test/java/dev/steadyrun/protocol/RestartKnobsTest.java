package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

class RestartKnobsTest {

    @Test
    void argumentsRoundTrip() {
        RestartKnobs k = new RestartKnobs(0.9, 3e-4, 0.3, true, 200, "sgd");
        assertThat(k.toArgs()).containsExactly("--knob", "lrMultiplier=0.9", "--knob", "lrOverride=3.0E-4",
                "--knob", "clipNorm=0.3", "--knob", "resetLossScaler=true", "--knob", "skipBatches=200",
                "--knob", "optimizer=sgd");
        List<String> values = k.toArgs().stream().filter(a -> !a.equals("--knob")).toList();
        assertThat(RestartKnobs.fromArgs(values)).isEqualTo(k);
        assertThat(RestartKnobs.NONE.toArgs()).isEmpty();
        assertThat(RestartKnobs.fromArgs(List.of())).isEqualTo(RestartKnobs.NONE);
    }

    @Test
    void jsonCarriesTheSixKnobsAndNothingElse() {
        tools.jackson.databind.ObjectMapper json = new tools.jackson.databind.ObjectMapper();
        RestartKnobs k = new RestartKnobs(0.9, null, 0.3, true, 200, null);
        String text = json.writeValueAsString(k);
        assertThat(json.readTree(text).propertyNames()).containsExactlyInAnyOrderElementsOf(RestartKnobs.NAMES);
        assertThat(json.readValue(text, RestartKnobs.class)).isEqualTo(k);
        assertThatThrownBy(() -> json.readValue(text.replace("0.9", "20"), RestartKnobs.class))
                .hasMessageContaining("lrMultiplier");
    }

    @Test
    void everyBoundNamesItsKnob() {
        assertKnob(() -> new RestartKnobs(0.0, null, null, false, 0, null), "lrMultiplier", "above 0");
        assertKnob(() -> new RestartKnobs(10.5, null, null, false, 0, null), "lrMultiplier", "at most 10");
        assertKnob(() -> new RestartKnobs(Double.NaN, null, null, false, 0, null), "lrMultiplier", "NaN");
        assertKnob(() -> new RestartKnobs(null, 1.0, null, false, 0, null), "lrOverride", "below 1");
        assertKnob(() -> new RestartKnobs(null, null, -0.1, false, 0, null), "clipNorm", "was -0.1");
        assertKnob(() -> new RestartKnobs(null, null, Double.POSITIVE_INFINITY, false, 0, null), "clipNorm", "Infinity");
        assertKnob(() -> new RestartKnobs(null, null, null, false, -1, null), "skipBatches", "was -1");
        assertKnob(() -> new RestartKnobs(null, null, null, false, 0, "lion"), "optimizer", "'lion'");
        assertThat(new RestartKnobs(10.0, 0.5, 0.0, false, RestartKnobs.MAX_SKIP_BATCHES, " AdamW ").optimizer())
                .isEqualTo("adamw");
    }

    @Test
    void badArgumentsNameTheKnob() {
        assertKnob(() -> RestartKnobs.fromArgs(List.of("lrMultiplier=fast")), "lrMultiplier", "not a number");
        assertKnob(() -> RestartKnobs.fromArgs(List.of("skipBatches=1.5")), "skipBatches", "whole number");
        assertKnob(() -> RestartKnobs.fromArgs(List.of("resetLossScaler=yes")), "resetLossScaler", "true or false");
        assertKnob(() -> RestartKnobs.fromArgs(List.of("warp=9")), "warp", "unknown knob");
        assertKnob(() -> RestartKnobs.fromArgs(List.of("clipNorm")), "knob", "name=value");
        assertKnob(() -> RestartKnobs.fromArgs(List.of("lrMultiplier=11")), "lrMultiplier", "at most 10");
    }

    private static void assertKnob(Runnable r, String knob, String message) {
        assertThatThrownBy(r::run).isInstanceOfSatisfying(RestartKnobs.InvalidKnobException.class,
                e -> {
                    assertThat(e.knob()).isEqualTo(knob);
                    assertThat(e.reason()).contains(message);
                    assertThat(e.getMessage()).startsWith("knob " + knob + ": ");
                });
    }
}
