package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * A run whose heartbeats continue but whose step stops advancing (a collective waiting forever, a wedged data
 * loader). Lost nodes are the lease detector's business; this only looks at ranks that still report.
 */
public class HangDetector {

    /**
     * @param lastStep          the newest step the rank reported
     * @param advancedAt        when, by the orchestrator's clock, that step was first seen (never the node's clock)
     * @param recentStepTimesMs the rank's last step times
     */
    public record RankProgress(int rank, long lastStep, Instant advancedAt, List<Double> recentStepTimesMs) {
    }

    /** The stuck ranks, the oldest step among them, how long the longest-stuck has waited, and the limit. */
    public record Hang(List<Integer> ranks, long step, Duration stalledFor, Duration limit) {
    }

    private final RecoveryPolicy policy;

    public HangDetector(RecoveryPolicy policy) {
        this.policy = policy;
    }

    /** max(k × median step time over every rank's recent steps, floor); the floor alone before any step time. */
    public Duration limit(Collection<RankProgress> ranks) {
        double median = Medians.of(ranks.stream().flatMap(r -> r.recentStepTimesMs().stream()).toList());
        if (Double.isNaN(median)) {
            return policy.hangFloor();
        }
        Duration scaled = Duration.ofMillis(Math.round(policy.hangStepTimeMultiple() * median));
        return scaled.compareTo(policy.hangFloor()) > 0 ? scaled : policy.hangFloor();
    }

    public Optional<Hang> check(Collection<RankProgress> ranks, Instant now) {
        Duration limit = limit(ranks);
        List<RankProgress> stuck = ranks.stream()
                .filter(r -> Duration.between(r.advancedAt(), now).compareTo(limit) > 0).toList();
        if (stuck.isEmpty()) {
            return Optional.empty();
        }
        Instant oldest = stuck.stream().map(RankProgress::advancedAt).min(Instant::compareTo).orElseThrow();
        long step = stuck.stream().mapToLong(RankProgress::lastStep).min().orElseThrow();
        return Optional.of(new Hang(stuck.stream().map(RankProgress::rank).sorted().toList(), step,
                Duration.between(oldest, now), limit));
    }
}
