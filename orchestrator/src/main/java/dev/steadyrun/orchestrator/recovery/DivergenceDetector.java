package dev.steadyrun.orchestrator.recovery;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;

import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * Watches one run's step metrics, in step order, and calls the first divergence. Fed rank 0's reports or every
 * rank's: each report is checked, while the weighted means and the overflow window advance once per step (on the
 * first report of a step), so that N ranks do not count as N steps. Not thread-safe: one per run attempt, fed by
 * one thread. After a verdict it stays silent; a restarted attempt gets a new detector.
 */
public class DivergenceDetector {

    private final RecoveryPolicy policy;
    private final double alpha;
    private final Deque<StepMetrics> evidence = new ArrayDeque<>();
    /** Steps of the current overflow window that overflowed, oldest first; the window ends at {@link #lastStep}. */
    private final Deque<Long> overflowSteps = new ArrayDeque<>();
    private long lastStep = Long.MIN_VALUE;
    private final Ewma loss = new Ewma();
    private final Ewma gradNorm = new Ewma();
    private Divergence verdict;

    public DivergenceDetector(RecoveryPolicy policy) {
        this.policy = policy;
        this.alpha = 2.0 / (policy.spikeEwmaSpan() + 1);
    }

    /** The divergence this report reveals, if it is the first one; empty otherwise. */
    public Optional<Divergence> accept(StepMetrics m) {
        if (verdict != null) {
            return Optional.empty();
        }
        evidence.addLast(m);
        while (evidence.size() > policy.evidenceWindow()) {
            evidence.removeFirst();
        }
        boolean newStep = m.step() > lastStep;
        if (newStep) {
            lastStep = m.step();
            if (m.overflow()) {
                overflowSteps.addLast(m.step());
            }
            while (!overflowSteps.isEmpty() && overflowSteps.peekFirst() <= lastStep - policy.overflowWindow()) {
                overflowSteps.removeFirst();
            }
        }
        verdict = judge(m);
        if (verdict == null && newStep) {
            loss.add(m.loss());
            if (!m.overflow()) {
                // an overflowed step's norm is inf/NaN by definition and was not applied
                gradNorm.add(m.gradNorm());
            }
        }
        return Optional.ofNullable(verdict);
    }

    /** The verdict so far, if any. */
    public Optional<Divergence> divergence() {
        return Optional.ofNullable(verdict);
    }

    private Divergence judge(StepMetrics m) {
        if (!Double.isFinite(m.loss())) {
            return found(Divergence.Kind.NON_FINITE_LOSS, m.step(), m, "loss is " + m.loss());
        }
        if (m.lossScale() < policy.healthyLossScale()) {
            return found(Divergence.Kind.LOSS_SCALE_COLLAPSE, m.step(), m,
                    "loss scale " + m.lossScale() + " is below " + policy.healthyLossScale());
        }
        if (loss.count >= policy.spikeWarmupSteps() && m.loss() > policy.spikeRatio() * loss.mean) {
            return found(Divergence.Kind.LOSS_SPIKE, m.step(), m, String.format(
                    "loss %.4g is above %.3g × its weighted mean %.4g", m.loss(), policy.spikeRatio(), loss.mean));
        }
        if (!m.overflow() && !Double.isFinite(m.gradNorm())) {
            return found(Divergence.Kind.GRAD_NORM_EXPLOSION, m.step(), m,
                    "gradient norm is " + m.gradNorm() + " on a step that did not overflow");
        }
        if (!m.overflow() && gradNorm.count >= policy.spikeWarmupSteps()
                && m.gradNorm() > policy.gradNormRatio() * gradNorm.mean) {
            return found(Divergence.Kind.GRAD_NORM_EXPLOSION, m.step(), m, String.format(
                    "gradient norm %.4g is above %.3g × its weighted mean %.4g",
                    m.gradNorm(), policy.gradNormRatio(), gradNorm.mean));
        }
        // the rate is over the whole window even before the run has that many steps, so start-up calibration of
        // the scaler (a few overflows) does not look like a high rate
        double rate = (double) overflowSteps.size() / policy.overflowWindow();
        if (rate > policy.maxOverflowRate()) {
            return found(Divergence.Kind.OVERFLOW_RATE, overflowSteps.peekFirst(), m, String.format(
                    "%d of the last %d steps overflowed (rate %.3g above %.3g)", overflowSteps.size(),
                    policy.overflowWindow(), rate, policy.maxOverflowRate()));
        }
        return null;
    }

    private Divergence found(Divergence.Kind kind, long onset, StepMetrics m, String reason) {
        return new Divergence(kind, onset, m.step(), reason, evidence.stream().toList());
    }

    private final class Ewma {
        double mean;
        int count;

        void add(double x) {
            if (!Double.isFinite(x)) {
                return;
            }
            mean = count == 0 ? x : alpha * x + (1 - alpha) * mean;
            count++;
        }
    }
}
