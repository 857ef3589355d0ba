package dev.steadyrun.orchestrator.recovery;

import java.util.Collection;

final class Medians {

    private Medians() {
    }

    /** The median of the values; NaN when there are none. */
    static double of(Collection<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = sorted.length;
        if (n == 0) {
            return Double.NaN;
        }
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
