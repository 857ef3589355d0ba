package dev.steadyrun.orchestrator.recovery;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * Scores each rank's speed against the fleet, one window of steps at a time: score = the rank's median step time
 * / the median of all ranks' medians (1.0 is typical, 2.0 twice as slow). A rank is a straggler once its score has
 * stayed above the policy's factor for several windows in a row, so one slow window (a checkpoint write, a
 * noisy neighbour) is not enough. Not thread-safe: one per run.
 */
public class StragglerScorer {

    /** One window's scores by rank, and the ranks now flagged as stragglers. */
    public record Window(SortedMap<Integer, Double> scores, List<Integer> stragglers) {
    }

    private final RecoveryPolicy policy;
    private final Map<Integer, Integer> slowWindowsInARow = new HashMap<>();

    public StragglerScorer(RecoveryPolicy policy) {
        this.policy = policy;
    }

    /** @param stepTimesMsByRank each rank's step times over the window ({@link RecoveryPolicy#stragglerWindowSteps}) */
    public Window score(Map<Integer, List<Double>> stepTimesMsByRank) {
        SortedMap<Integer, Double> medians = new TreeMap<>();
        stepTimesMsByRank.forEach((rank, times) -> {
            if (!times.isEmpty()) {
                medians.put(rank, Medians.of(times));
            }
        });
        double fleet = Medians.of(medians.values());
        SortedMap<Integer, Double> scores = new TreeMap<>();
        TreeSet<Integer> flagged = new TreeSet<>();
        medians.forEach((rank, median) -> {
            double score = median / fleet;
            scores.put(rank, score);
            int inARow = score > policy.stragglerFactor() ? slowWindowsInARow.getOrDefault(rank, 0) + 1 : 0;
            slowWindowsInARow.put(rank, inARow);
            if (inARow >= policy.stragglerConsecutiveWindows()) {
                flagged.add(rank);
            }
        });
        // a rank without times in this window (restarted, swapped out) starts counting again
        slowWindowsInARow.keySet().retainAll(medians.keySet());
        return new Window(scores, List.copyOf(flagged));
    }
}
