package dev.steadyrun.orchestrator.recovery;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * The detectors of one generation of one run, in memory: divergence, per-rank progress for the hang backstop, and
 * step-time windows for the straggler score. After an orchestrator restart they are rebuilt from the stored steps
 * ({@link #replay}; a hang counts from the rebuild). Callers synchronize on it.
 */
final class RunWatch {

    private static final int RECENT_STEP_TIMES = 32;

    /** What one report showed. */
    record Seen(boolean firstStep, Optional<Divergence> divergence, Optional<StragglerScorer.Window> window) {
    }

    private static final class Progress {
        long lastStep = -1;
        Instant advancedAt;
        final Deque<Double> recent = new ArrayDeque<>();
    }

    final long generation;
    final RecoveryPolicy policy;
    private final int worldSize;
    private final Instant since;
    private final DivergenceDetector divergence;
    private final StragglerScorer stragglers;
    private final HangDetector hangs;
    private final Map<Integer, Progress> progress = new HashMap<>();
    private final Map<Integer, List<Double>> window = new HashMap<>();
    private boolean stepSeen;

    RunWatch(long generation, RecoveryPolicy policy, int worldSize, Instant since) {
        this.generation = generation;
        this.policy = policy;
        this.worldSize = worldSize;
        this.since = since;
        this.divergence = new DivergenceDetector(policy);
        this.stragglers = new StragglerScorer(policy);
        this.hangs = new HangDetector(policy);
    }

    /** One rank's report, steps in any order; {@code now} by the orchestrator's clock. */
    Seen accept(int rank, List<StepMetrics> steps, Instant now) {
        boolean first = !stepSeen;
        stepSeen = true;
        Divergence found = null;
        Progress p = progress.computeIfAbsent(rank, r -> new Progress());
        List<Double> times = window.computeIfAbsent(rank, r -> new ArrayList<>());
        for (StepMetrics m : steps.stream().sorted(java.util.Comparator.comparingLong(StepMetrics::step)).toList()) {
            if (m.step() > p.lastStep) {
                p.lastStep = m.step();
                p.advancedAt = now;
                p.recent.addLast(m.stepTimeMs());
                while (p.recent.size() > RECENT_STEP_TIMES) {
                    p.recent.removeFirst();
                }
                if (worldSize > 1) { // one rank has nobody to straggle behind: its window would only grow
                    times.add(m.stepTimeMs());
                }
            }
            Optional<Divergence> d = divergence.accept(m);
            if (found == null && d.isPresent()) {
                found = d.get();
            }
        }
        StragglerScorer.Window scored = null;
        if (worldSize > 1 && window.size() == worldSize
                && window.values().stream().allMatch(t -> t.size() >= policy.stragglerWindowSteps())) {
            scored = stragglers.score(Map.copyOf(window));
            window.clear();
        }
        return new Seen(first, Optional.ofNullable(found), Optional.ofNullable(scored));
    }

    /**
     * Feeds steps stored before this watch existed (an orchestrator restart), in step then rank order: the divergence
     * detector's means and windows warm up again, and what these steps reveal was the previous process's to act on.
     */
    void replay(int rank, StepMetrics m, Instant now) {
        boolean seen = stepSeen;
        accept(rank, List.of(m), now);
        stepSeen = seen; // the first live report still settles the restart's incident (a no-op when it was)
    }

    /** The hang backstop: ranks that never reported count from when this watch began. */
    Optional<HangDetector.Hang> hang(Instant now) {
        List<HangDetector.RankProgress> ranks = new ArrayList<>();
        for (int rank = 0; rank < worldSize; rank++) {
            Progress p = progress.get(rank);
            ranks.add(p == null ? new HangDetector.RankProgress(rank, -1, since, List.of())
                    : new HangDetector.RankProgress(rank, p.lastStep, p.advancedAt, List.copyOf(p.recent)));
        }
        return hangs.check(ranks, now);
    }
}
