package dev.steadyrun.orchestrator.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RecoveryPolicy;

import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.Candidate;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.Pick;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.Skip;

class CheckpointPickerTest {

    private final CheckpointPicker picker = new CheckpointPicker(RecoveryPolicy.DEFAULT);

    private static Candidate good(long step) {
        return new Candidate(step, 4096, false, 0);
    }

    @Test
    void newestGoodCheckpointAtLeastTheMarginBeforeTheOnset() {
        List<Candidate> all = List.of(good(1000), good(3000), good(2000), good(4000));
        Pick pick = picker.beforeDivergence(all, 3050);
        assertThat(pick.chosen()).contains(good(2000));
        assertThat(pick.skipped()).extracting(Skip::step).containsExactly(4000L, 3000L);
        assertThat(pick.skipped()).allSatisfy(s -> assertThat(s.reason()).contains("too close to the divergence onset"));
    }

    @Test
    void exactlyTheMarginBeforeTheOnsetIsAllowed() {
        assertThat(picker.beforeDivergence(List.of(good(2900), good(2901)), 3001).chosen()).contains(good(2901));
    }

    @Test
    void skipsCorruptAndUnhealthyWithTheirReasons() {
        List<Candidate> all = List.of(good(1000),
                new Candidate(2000, 0.5, false, 0),
                new Candidate(4000, 4096, true, 0));
        Pick pick = picker.beforeDivergence(all, 9000);
        assertThat(pick.chosen()).contains(good(1000));
        assertThat(pick.skipped()).extracting(Skip::step, s -> s.reason().split(":")[0])
                .containsExactly(
                        tuple(4000L, "corrupt"),
                        tuple(2000L, "unhealthy"));
    }

    @Test
    void aCheckpointThatLedToTheSameDivergenceTwiceIsExcluded() {
        List<Candidate> once = List.of(good(1000), new Candidate(2000, 4096, false, 1));
        assertThat(picker.beforeDivergence(once, 5000).chosen()).map(Candidate::step).contains(2000L);
        List<Candidate> twice = List.of(good(1000), new Candidate(2000, 4096, false, 2));
        Pick pick = picker.beforeDivergence(twice, 5000);
        assertThat(pick.chosen()).contains(good(1000));
        assertThat(pick.skipped()).singleElement().satisfies(s -> assertThat(s.reason()).contains("same divergence 2 times"));
    }

    @Test
    void fallsBackOlderEachTimeARestoreFails() {
        List<Candidate> all = new ArrayList<>(List.of(good(1000), good(2000), good(3000)));
        List<Long> tried = new ArrayList<>();
        for (Pick pick = picker.latestUsable(all); pick.chosen().isPresent(); pick = picker.latestUsable(all)) {
            Candidate c = pick.chosen().get();
            tried.add(c.step());
            // the restore failed: the caller marks it corrupt and asks again
            all.set(all.indexOf(c), new Candidate(c.step(), c.lossScale(), true, 0));
        }
        assertThat(tried).containsExactly(3000L, 2000L, 1000L);
    }

    @Test
    void noneFitsMeansEmptyWithEveryReason() {
        Pick pick = picker.beforeDivergence(List.of(good(50), new Candidate(0, 0.25, false, 0)), 120);
        assertThat(pick.chosen()).isEmpty();
        assertThat(pick.skipped()).extracting(Skip::step).containsExactly(50L, 0L);
        assertThat(picker.beforeDivergence(List.of(), 120).chosen()).isEmpty();
    }

    @Test
    void afterHardwareFailuresHealthAndOnsetDoNotMatter() {
        List<Candidate> all = List.of(good(1000), new Candidate(2000, 0.5, false, 5),
                new Candidate(3000, 4096, true, 0));
        Pick pick = picker.latestUsable(all);
        assertThat(pick.chosen()).map(Candidate::step).contains(2000L);
        assertThat(pick.skipped()).extracting(Skip::step).containsExactly(3000L);
    }
}
