package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;

import org.junit.jupiter.api.Test;

class ModelSizeTest {

    /** The parameter count each OPT name stands for, in millions. */
    private static final Map<String, Double> NAMED_MILLIONS = Map.ofEntries(
            Map.entry("125M", 125.0), Map.entry("350M", 350.0), Map.entry("760M", 760.0), Map.entry("1.3B", 1300.0),
            Map.entry("2.7B", 2700.0), Map.entry("6.7B", 6700.0), Map.entry("13B", 13000.0),
            Map.entry("30B", 30000.0), Map.entry("66B", 66000.0), Map.entry("175B", 175000.0));

    @Test
    void everyNamedSizeHasAboutTheParametersItsNameSays() {
        for (ModelSize size : ModelSize.values()) {
            if (!NAMED_MILLIONS.containsKey(size.label)) {
                continue;
            }
            double millions = size.config().parameterCount() / 1e6;
            // the names are rounded (13B is 12.85B); positional rows are seqLen here, metaseq adds 2 offset rows
            double tolerance = 0.03;
            assertThat(millions).as(size.label).isCloseTo(NAMED_MILLIONS.get(size.label),
                    within(NAMED_MILLIONS.get(size.label) * tolerance));
        }
        assertThat(NAMED_MILLIONS.keySet()).allSatisfy(name -> ModelSize.byLabel(name));
    }

    @Test
    void parameterCountIsComputedFromTheShape() {
        ModelConfig c = ModelSize.M125.config();
        long d = 768;
        long perLayer = 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d;
        assertThat(c.parameterCount()).isEqualTo(50_272 * d + 2048 * d + 12 * perLayer + 2 * d);
        assertThat(c.parameterCount()).isEqualTo(125_237_760L);
    }

    @Test
    void table1ShapesAndHyperParameters() {
        assertThat(ModelSize.byLabel("175B")).satisfies(s -> {
            assertThat(s.layers).isEqualTo(96);
            assertThat(s.heads).isEqualTo(96);
            assertThat(s.dModel).isEqualTo(12288);
            assertThat(s.lr).isEqualTo(1.2e-4);
            assertThat(s.warmupSteps).isEqualTo(2000);
        });
        assertThat(ModelSize.byLabel("66b").lr).isEqualTo(0.8e-4);
        assertThat(ModelSize.byLabel("760M").dModel).isEqualTo(1536);
        assertThat(ModelSize.byLabel("1.3B").batchTokens).isEqualTo(1 << 20);
        for (ModelSize s : ModelSize.values()) {
            assertThat(s.dModel % s.heads).as(s.label).isZero();
        }
    }

    @Test
    void unknownSizeIsRefusedWithTheKnownOnes() {
        assertThatThrownBy(() -> ModelSize.byLabel("7B")).hasMessageContaining("model must be one of")
                .hasMessageContaining("175B").hasMessageContaining("'7B'");
    }
}
