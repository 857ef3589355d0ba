package dev.steadyrun.trainer;

import java.util.Locale;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.updaters.AdamUpdater;
import org.nd4j.linalg.factory.Nd4j;

/**
 * AdamW (decoupled weight decay, as PyTorch's {@code AdamW}) and plain SGD (no momentum), switchable between
 * steps: OPT briefly swapped AdamW for SGD mid-run. Both apply the decoupled decay {@code p ← p·(1 − lr·wd)} to
 * the 2-D weight matrices only ({@link OptModel#isDecayed}). The Adam moments are kept while SGD runs, so
 * switching back resumes from them (stale, as OPT's logbook warns).
 */
final class Optimizer {

    public enum Kind {
        ADAMW, SGD;

        public static Kind of(String name) {
            return valueOf(name.toUpperCase(Locale.ROOT));
        }
    }

    private Optimizer() {
    }

    /**
     * The update of one tensor, or of one rank's slice of it ({@link DataParallel} keeps the moments and the Adam
     * step count): weight decay, then AdamW or SGD. The gradient array is consumed: it is overwritten with the update
     * (the gradients are zeroed before the next step anyway), which keeps the step free of large temporaries.
     */
    static void update(Kind kind, INDArray p, INDArray g, INDArray m, INDArray v, boolean decayed, long adamSteps,
                       double lr, double weightDecay, double beta1, double beta2, double eps) {
        if (weightDecay > 0 && decayed) {
            p.muli(1 - lr * weightDecay);
        }
        if (kind == Kind.ADAMW) {
            // One fused native pass updates m and v in place and writes m·(√(1−β2ᵗ)/(1−β1ᵗ))/(√v + ε') into g;
            // with ε' = ε·√(1−β2ᵗ) that is exactly (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε), PyTorch's form. The op
            // counts steps from 0. lr is applied below, not passed, because the op replaces a zero step size
            // (warm-up step 0) by ε.
            double sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, adamSteps));
            Nd4j.exec(new AdamUpdater(g, v, m, 1.0, beta1, beta2, eps * sqrtBc2, Math.toIntExact(adamSteps - 1)));
        }
        p.subi(g.muli(lr));
    }
}
