package dev.steadyrun.trainer;

/**
 * metaseq's dynamic loss scaler: overflow → skip step, scale /= factor (not below minScale), window halved
 * (not below 1); `window` consecutive clean steps → scale *= factor and window doubled.
 *
 * <p>Follows metaseq's {@code optim/dynamic_loss_scaler.py} with its OPT defaults (initial 4, factor 2, window
 * 256, minimum 2^-5, tolerance 0, no threshold), including two quirks worth knowing:
 * <ul>
 *   <li>Growth happens when the count of clean steps since the last overflow is a multiple of the current
 *       window, and that count is not reset by a growth. With window w the scale therefore grows after w, 2w,
 *       4w, 8w… clean steps (gaps w, w, 2w, 4w…), not after every w.</li>
 *   <li>An overflow that would take the scale below minScale leaves it where it was (metaseq restores the
 *       previous scale rather than clamping), while the window still shrinks. A scale pinned at its floor keeps
 *       skipping steps; that is the collapse OPT's team watched for.</li>
 * </ul>
 * Deviations: tolerance is fixed at 0 and there is no threshold (OPT used neither), and the window is kept as an
 * int (metaseq lets it become a float for a non-integer factor), capped so it cannot overflow.
 *
 * <p>Not thread-safe: one trainer loop owns it.
 */
public final class LossScaler {

    private final double initScale;
    private final double factor;
    private final int initWindow;
    private final double minScale;

    private double scale;
    private int window;
    private long cleanSteps;
    private long overflows;

    public LossScaler(double initScale, double factor, int window, double minScale) {
        if (!(initScale > 0) || !Double.isFinite(initScale)) {
            throw new IllegalArgumentException("initScale must be finite and > 0, got " + initScale);
        }
        if (!(factor > 1) || !Double.isFinite(factor)) {
            throw new IllegalArgumentException("factor must be finite and > 1, got " + factor);
        }
        if (window < 1) {
            throw new IllegalArgumentException("window must be >= 1, got " + window);
        }
        if (!(minScale > 0) || minScale > initScale) {
            throw new IllegalArgumentException("minScale must be > 0 and <= initScale (" + initScale + "), got "
                    + minScale);
        }
        this.initScale = initScale;
        this.factor = factor;
        this.initWindow = window;
        this.minScale = minScale;
        reset();
    }

    public static LossScaler restore(double initScale, double factor, int window, double minScale,
                                     LossScalerState s) {
        LossScaler scaler = new LossScaler(initScale, factor, window, minScale);
        if (s == null) {
            throw new IllegalArgumentException("state must not be null");
        }
        if (!(s.scale() > 0) || !Double.isFinite(s.scale())) {
            throw new IllegalArgumentException("state.scale must be finite and > 0, got " + s.scale());
        }
        if (s.window() < 1) {
            throw new IllegalArgumentException("state.window must be >= 1, got " + s.window());
        }
        if (s.cleanSteps() < 0) {
            throw new IllegalArgumentException("state.cleanSteps must be >= 0, got " + s.cleanSteps());
        }
        if (s.overflows() < 0) {
            throw new IllegalArgumentException("state.overflows must be >= 0, got " + s.overflows());
        }
        scaler.scale = s.scale();
        scaler.window = s.window();
        scaler.cleanSteps = s.cleanSteps();
        scaler.overflows = s.overflows();
        return scaler;
    }

    /** The factor to multiply the loss by before the backward pass (and to divide the gradients by after). */
    public double scale() {
        return scale;
    }

    /**
     * Records the outcome of one step's overflow check (inf or NaN in the unscaled gradients).
     *
     * @return true when the step must be APPLIED (no overflow), false when it must be skipped
     */
    public boolean update(boolean overflow) {
        if (overflow) {
            overflows++;
            cleanSteps = 0;
            window = Math.max((int) (window / factor), 1);
            double lowered = scale / factor;
            if (lowered >= minScale) {
                scale = lowered;
            }
            return false;
        }
        cleanSteps++;
        if (cleanSteps % window == 0) {
            scale *= factor;
            window = (int) Math.min(window * factor, Integer.MAX_VALUE);
        }
        return true;
    }

    /** Back to the initial scale and window (the restart knob); the overflow total is kept. */
    public void reset() {
        scale = initScale;
        window = initWindow;
        cleanSteps = 0;
    }

    public LossScalerState state() {
        return new LossScalerState(scale, window, cleanSteps, overflows);
    }
}
