package dev.steadyrun.orchestrator.recovery;

import java.util.List;

import dev.steadyrun.protocol.StepMetrics;

/**
 * A training run found diverging.
 *
 * @param kind       which rule fired
 * @param onsetStep  the first step whose metrics crossed a threshold: the restore point must lie before it
 * @param detectedAt the step of the report that made the verdict
 * @param reason     what crossed which threshold, for the logbook
 * @param evidence   the last metrics seen, the deciding report last
 */
public record Divergence(Kind kind, long onsetStep, long detectedAt, String reason, List<StepMetrics> evidence) {

    public enum Kind { NON_FINITE_LOSS, LOSS_SPIKE, LOSS_SCALE_COLLAPSE, OVERFLOW_RATE, GRAD_NORM_EXPLOSION }

    public Divergence {
        evidence = List.copyOf(evidence);
    }
}
