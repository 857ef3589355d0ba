package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

class StragglerScorerTest {

    private final Random random = new Random(42);

    /** One window of 50 step times per rank, ±5% noise around each rank's typical time. */
    private Map<Integer, List<Double>> window(double... typicalMsByRank) {
        Map<Integer, List<Double>> times = new TreeMap<>();
        for (int r = 0; r < typicalMsByRank.length; r++) {
            List<Double> t = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                t.add(typicalMsByRank[r] * (1 + 0.05 * random.nextGaussian()));
            }
            times.put(r, t);
        }
        return times;
    }

    @Test
    void scoresAreRelativeToTheFleetMedian() {
        StragglerScorer scorer = new StragglerScorer(RecoveryPolicy.DEFAULT);
        StragglerScorer.Window w = scorer.score(window(400, 400, 400, 800));
        assertThat(w.scores().get(0)).isCloseTo(1.0, offset(0.05));
        assertThat(w.scores().get(3)).isCloseTo(2.0, offset(0.1));
        assertThat(w.stragglers()).isEmpty();
    }

    @Test
    void flaggedOnlyAfterConsecutiveSlowWindows() {
        StragglerScorer scorer = new StragglerScorer(RecoveryPolicy.DEFAULT);
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).isEmpty();
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).isEmpty();
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).containsExactly(3);
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).containsExactly(3);
    }

    @Test
    void aNormalWindowResetsTheCount() {
        StragglerScorer scorer = new StragglerScorer(RecoveryPolicy.DEFAULT);
        scorer.score(window(400, 400, 400, 800));
        scorer.score(window(400, 400, 400, 800));
        assertThat(scorer.score(window(400, 400, 400, 410)).stragglers()).isEmpty();
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).isEmpty();
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).isEmpty();
        assertThat(scorer.score(window(400, 400, 400, 800)).stragglers()).containsExactly(3);
    }

    @Test
    void noiseAndASlightlySlowRankAreNotStragglers() {
        StragglerScorer scorer = new StragglerScorer(RecoveryPolicy.DEFAULT);
        for (int i = 0; i < 20; i++) {
            assertThat(scorer.score(window(400, 420, 390, 480, 405, 395, 410, 400)).stragglers()).isEmpty();
        }
    }
}
