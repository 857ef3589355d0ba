package dev.steadyrun.orchestrator.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RecoveryPolicy;

import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.Candidate;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.Holder;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker.MemoryPick;
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

    // memory snapshots: 3 ranks on nodes A, B, C; rank r's node holds shards r and r-1 (ring predecessor)
    private static final UUID A = new UUID(0, 1);
    private static final UUID B = new UUID(0, 2);
    private static final UUID C = new UUID(0, 3);
    private static final UUID SPARE = new UUID(0, 4);

    /** Snapshot {@code step} as the three nodes reported it (rank 0 on A, 1 on B, 2 on C). */
    private static List<Holder> snapshot(long step, boolean unusable) {
        String sha = "sha-" + step;
        return List.of(new Holder(step, sha, 3, A, List.of(0, 2), unusable),
                new Holder(step, sha, 3, B, List.of(0, 1), unusable),
                new Holder(step, sha, 3, C, List.of(1, 2), unusable));
    }

    private static List<Holder> snapshots(long... steps) {
        List<Holder> all = new ArrayList<>();
        for (long step : steps) {
            all.addAll(snapshot(step, false));
        }
        return all;
    }

    @Test
    void aLostNodesShardIsTakenFromItsSuccessorsReplica() {
        // B (rank 1) lost, a spare takes its rank: rank 1's shard is on C, rank 0's on A
        MemoryPick pick = CheckpointPicker.newestSurvivingSnapshot(snapshots(40, 50), Set.of(A, SPARE, C), 30L);
        assertThat(pick.chosen()).hasValueSatisfying(m -> {
            assertThat(m.step()).isEqualTo(50);
            assertThat(m.manifestSha256()).isEqualTo("sha-50");
            assertThat(m.shardHolders()).isEqualTo(Map.of(0, A, 1, C, 2, A));
        });
        assertThat(pick.skipped()).isEmpty();
    }

    @Test
    void twoLostNeighboursLeaveAShardNowhereAndNoSnapshotIsUsable() {
        // B and C lost: rank 1's shard (on B) and its replica (on C) are both gone
        MemoryPick pick = CheckpointPicker.newestSurvivingSnapshot(snapshots(40, 50), Set.of(A, SPARE, new UUID(0, 5)), 30L);
        assertThat(pick.chosen()).isEmpty();
        assertThat(pick.skipped()).extracting(Skip::step).containsExactly(50L, 40L);
        assertThat(pick.skipped().get(0).reason()).contains("rank(s) [1]").contains("survive on no node");
    }

    @Test
    void aSnapshotNoNewerThanTheDurableCheckpointIsNotGathered() {
        assertThat(CheckpointPicker.newestSurvivingSnapshot(snapshots(40, 50), Set.of(A, B, C), 50L).chosen()).isEmpty();
        assertThat(CheckpointPicker.newestSurvivingSnapshot(snapshots(40, 50), Set.of(A, B, C), null).chosen())
                .map(CheckpointPicker.MemoryChoice::step).contains(50L);
    }

    @Test
    void anUnusableSnapshotIsPassedOverForAnOlderOne() {
        List<Holder> all = new ArrayList<>(snapshot(50, true));
        all.addAll(snapshot(40, false));
        MemoryPick pick = CheckpointPicker.newestSurvivingSnapshot(all, Set.of(A, B, C), 30L);
        assertThat(pick.chosen()).map(CheckpointPicker.MemoryChoice::step).contains(40L);
        assertThat(pick.skipped()).singleElement().satisfies(s -> {
            assertThat(s.step()).isEqualTo(50);
            assertThat(s.reason()).contains("unusable");
        });
    }

    @Test
    void aSnapshotIsJudgedOnlyByTheNodesItWasReportedFrom() {
        // only A's and B's reports arrived for step 60 (C's report was lost with C): rank 2's shard is on A
        List<Holder> partial = new ArrayList<>(snapshot(60, false).subList(0, 2));
        assertThat(CheckpointPicker.newestSurvivingSnapshot(partial, Set.of(A, B, SPARE), null).chosen())
                .hasValueSatisfying(m -> assertThat(m.shardHolders()).isEqualTo(Map.of(0, A, 1, B, 2, A)));
        // with A lost too, rank 2's shard (A's replica, C's own) survives nowhere
        assertThat(CheckpointPicker.newestSurvivingSnapshot(partial, Set.of(B, SPARE), null).chosen()).isEmpty();
    }
}
