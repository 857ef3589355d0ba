package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.MutableClock;
import dev.steadyrun.orchestrator.recovery.HangDetector.RankProgress;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

class HangDetectorTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-28T03:00:00Z"));
    private final HangDetector detector = new HangDetector(RecoveryPolicy.DEFAULT);

    private RankProgress rank(int rank, long step, Instant at, double stepTimeMs) {
        return new RankProgress(rank, step, at, Collections.nCopies(20, stepTimeMs));
    }

    @Test
    void fastStepsUseTheFloor() {
        Instant t0 = clock.instant();
        List<RankProgress> ranks = List.of(rank(0, 100, t0, 500), rank(1, 100, t0, 500));
        // 10 × 0.5 s = 5 s is shorter than the 10-minute floor
        assertThat(detector.limit(ranks)).isEqualTo(Duration.ofMinutes(10));
        clock.advance(Duration.ofMinutes(10));
        assertThat(detector.check(ranks, clock.instant())).isEmpty();
        clock.advance(Duration.ofSeconds(1));
        assertThat(detector.check(ranks, clock.instant())).hasValueSatisfying(h -> {
            assertThat(h.ranks()).containsExactly(0, 1);
            assertThat(h.step()).isEqualTo(100);
            assertThat(h.stalledFor()).isEqualTo(Duration.ofMinutes(10).plusSeconds(1));
        });
    }

    @Test
    void slowStepsScaleTheLimit() {
        Instant t0 = clock.instant();
        // 2-minute steps: the limit is 10 × 2 min = 20 min, longer than the floor
        List<RankProgress> ranks = List.of(rank(0, 7, t0, 120_000), rank(1, 7, t0, 120_000));
        assertThat(detector.limit(ranks)).isEqualTo(Duration.ofMinutes(20));
        clock.advance(Duration.ofMinutes(15));
        assertThat(detector.check(ranks, clock.instant())).isEmpty();
        clock.advance(Duration.ofMinutes(6));
        assertThat(detector.check(ranks, clock.instant())).isPresent();
    }

    @Test
    void onlyTheStuckRanksAreNamed() {
        Instant t0 = clock.instant();
        clock.advance(Duration.ofMinutes(11));
        List<RankProgress> ranks = List.of(rank(0, 900, clock.instant(), 500), rank(1, 850, t0, 500),
                rank(2, 900, clock.instant(), 500));
        assertThat(detector.check(ranks, clock.instant()))
                .hasValueSatisfying(h -> assertThat(h.ranks()).containsExactly(1));
    }

    @Test
    void beforeAnyStepTimeTheFloorApplies() {
        Instant t0 = clock.instant();
        List<RankProgress> ranks = List.of(new RankProgress(0, 0, t0, List.of()));
        clock.advance(Duration.ofMinutes(9));
        assertThat(detector.check(ranks, clock.instant())).isEmpty();
        clock.advance(Duration.ofMinutes(2));
        assertThat(detector.check(ranks, clock.instant())).isPresent();
    }
}
