package dev.steadyrun.protocol;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The adjustments a restart may apply to a run, recorded in the checkpoint's history by the trainer. Null fields
 * leave the trainer's value as it is. The one definition of their bounds and of their command-line form: every
 * instance is valid (the constructor refuses anything else, naming the knob), and {@link #toArgs()} /
 * {@link #fromArgs(List)} are the only encoding the agent and the trainer use.
 *
 * @param lrMultiplier     multiplies the scheduled learning rate (OPT cut it by 10%: 0.9); (0, 10]
 * @param lrOverride       replaces the peak learning rate; (0, 1)
 * @param clipNorm         gradient clipping by global L2 norm (OPT lowered 1.0 to 0.3); [0, 1000], 0 turns it off
 * @param resetLossScaler  start the dynamic loss scaler again from its initial scale
 * @param skipBatches      skip the next N batches of the data stream (PaLM skipped 200–500); [0, 10^9]
 * @param optimizer        {@code adamw} or {@code sgd}
 */
public record RestartKnobs(Double lrMultiplier, Double lrOverride, Double clipNorm, boolean resetLossScaler,
                           long skipBatches, String optimizer) {

    public static final RestartKnobs NONE = new RestartKnobs(null, null, null, false, 0, null);

    public static final double MAX_LR_MULTIPLIER = 10;
    public static final double MAX_CLIP_NORM = 1000;
    public static final long MAX_SKIP_BATCHES = 1_000_000_000L;
    public static final List<String> OPTIMIZERS = List.of("adamw", "sgd");
    /** The knobs' names, as fields, JSON members and {@code --knob name=value} arguments. */
    public static final List<String> NAMES = List.of("lrMultiplier", "lrOverride", "clipNorm", "resetLossScaler",
            "skipBatches", "optimizer");

    /** A knob out of its bounds: {@link #knob()} names it, {@link #reason()} says what it must be and what it was. */
    public static final class InvalidKnobException extends IllegalArgumentException {
        private final String knob;
        private final String reason;

        public InvalidKnobException(String knob, String reason) {
            super("knob " + knob + ": " + reason);
            this.knob = knob;
            this.reason = reason;
        }

        public String knob() {
            return knob;
        }

        public String reason() {
            return reason;
        }
    }

    public RestartKnobs {
        if (lrMultiplier != null && !(lrMultiplier > 0 && lrMultiplier <= MAX_LR_MULTIPLIER)) {
            throw new InvalidKnobException("lrMultiplier", "must be above 0 and at most " + (int) MAX_LR_MULTIPLIER
                    + ", was " + lrMultiplier);
        }
        if (lrOverride != null && !(lrOverride > 0 && lrOverride < 1)) {
            throw new InvalidKnobException("lrOverride", "must be above 0 and below 1, was " + lrOverride);
        }
        if (clipNorm != null && !(clipNorm >= 0 && clipNorm <= MAX_CLIP_NORM)) {
            throw new InvalidKnobException("clipNorm", "must be 0 (no clipping) to " + (int) MAX_CLIP_NORM
                    + ", was " + clipNorm);
        }
        if (skipBatches < 0 || skipBatches > MAX_SKIP_BATCHES) {
            throw new InvalidKnobException("skipBatches", "must be 0 to " + MAX_SKIP_BATCHES + ", was " + skipBatches);
        }
        if (optimizer != null) {
            String o = optimizer.trim().toLowerCase(Locale.ROOT);
            if (!OPTIMIZERS.contains(o)) {
                throw new InvalidKnobException("optimizer", "must be one of " + OPTIMIZERS + ", was '" + optimizer + "'");
            }
            optimizer = o;
        }
    }

    /** The trainer's arguments for these knobs: {@code --knob name=value} for each one set, in {@link #NAMES} order. */
    public List<String> toArgs() {
        List<String> argv = new ArrayList<>();
        arg(argv, "lrMultiplier", lrMultiplier);
        arg(argv, "lrOverride", lrOverride);
        arg(argv, "clipNorm", clipNorm);
        arg(argv, "resetLossScaler", resetLossScaler ? Boolean.TRUE : null);
        arg(argv, "skipBatches", skipBatches > 0 ? skipBatches : null);
        arg(argv, "optimizer", optimizer);
        return argv;
    }

    private static void arg(List<String> argv, String name, Object value) {
        if (value != null) {
            argv.add("--knob");
            argv.add(name + "=" + value);
        }
    }

    /**
     * Reads the values of {@code --knob} arguments ({@code name=value} each, as {@link #toArgs()} writes them).
     *
     * @throws InvalidKnobException naming the knob when one is unknown, malformed or out of bounds
     */
    public static RestartKnobs fromArgs(List<String> values) {
        Double lrMultiplier = null;
        Double lrOverride = null;
        Double clipNorm = null;
        boolean reset = false;
        long skip = 0;
        String optimizer = null;
        for (String k : values) {
            int eq = k.indexOf('=');
            if (eq <= 0) {
                throw new InvalidKnobException("knob", "expects name=value, got '" + k + "'");
            }
            String name = k.substring(0, eq).trim();
            String value = k.substring(eq + 1).trim();
            switch (name) {
                case "lrMultiplier" -> lrMultiplier = real(name, value);
                case "lrOverride" -> lrOverride = real(name, value);
                case "clipNorm" -> clipNorm = real(name, value);
                case "resetLossScaler" -> reset = bool(name, value);
                case "skipBatches" -> skip = integer(name, value);
                case "optimizer" -> optimizer = value;
                default -> throw new InvalidKnobException(name, "unknown knob (known: " + String.join(", ", NAMES) + ")");
            }
        }
        return new RestartKnobs(lrMultiplier, lrOverride, clipNorm, reset, skip, optimizer);
    }

    private static double real(String name, String value) {
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new InvalidKnobException(name, "not a number: '" + value + "'");
        }
    }

    private static long integer(String name, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new InvalidKnobException(name, "not a whole number: '" + value + "'");
        }
    }

    private static boolean bool(String name, String value) {
        if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
            throw new InvalidKnobException(name, "must be true or false, was '" + value + "'");
        }
        return Boolean.parseBoolean(value);
    }
}
