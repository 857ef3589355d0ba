package dev.steadyrun.orchestrator.run;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.JsonNode;

/**
 * Every threshold of a run's failure detection and remediation, with the defaults in one place
 * ({@link #DEFAULT}). A run stores its policy as JSON; {@link #parse} overlays the keys it names on the defaults.
 *
 * @param spikeEwmaSpan               span of the loss's exponentially weighted mean, alpha = 2 / (span + 1).
 *                                    Default 9: metaseq's loss-spike rule, added after OPT.
 * @param spikeRatio                  a loss above this multiple of its weighted mean is a spike. Default 1.5: ours
 *                                    (metaseq takes the ratio as a flag); a divergent LLM loss jumps by far more,
 *                                    while step-to-step noise of a healthy run stays well under it
 * @param spikeWarmupSteps            no spike or gradient-norm verdict before the weighted means have seen this many
 *                                    steps: early training moves too fast for a mean to be a baseline. Default 20
 * @param gradNormRatio               a gradient norm above this multiple of its weighted mean is an explosion.
 *                                    Default 10: ours
 * @param healthyLossScale            a loss scale below this is a collapse, and a checkpoint written under it is
 *                                    not healthy. Default 1.0: OPT's logbook called a checkpoint healthy at ≥ 1.0
 * @param overflowWindow              steps over which the overflow rate is counted. Default 100: ours
 * @param maxOverflowRate             overflowed (skipped) steps per window above which the run is diverging.
 *                                    Default 0.2: ours; a settled dynamic scaler overflows about once per growth
 *                                    interval (thousands of steps)
 * @param evidenceWindow              metrics kept as the evidence of a divergence. Default 20
 * @param rollbackMarginSteps         the checkpoint restored must be at least this many steps before the onset.
 *                                    Default 100: PaLM restarted from about 100 steps before a spike
 * @param maxSameDivergenceRestarts   a checkpoint whose restarts already ended this many times in the same
 *                                    divergence is not used again. Default 2 (issue 9)
 * @param hangStepTimeMultiple        a rank is hung when its step has not advanced for this multiple of the
 *                                    median step time ... Default 10: ours
 * @param hangFloor                   ... or for this long, whichever is longer (covers start-up and checkpoint
 *                                    writes). Default 10 minutes: ours
 * @param stragglerFactor             a rank whose median step time is above this multiple of the fleet's median
 *                                    scores as slow. Default 1.4: ours, about NVIDIA resiliency extension's way of
 *                                    scoring each rank's performance relative to the others
 * @param stragglerWindowSteps        steps per scoring window. Default 50
 * @param stragglerConsecutiveWindows a rank is a straggler after this many slow windows in a row. Default 3
 * @param restartBudget               restarts after user-code failures before the run is paused for a human;
 *                                    infrastructure failures do not count. Default 5 (Determined's default
 *                                    max_restarts)
 * @param noProgressRestarts          stop after this many restarts in a row gained no step. Default 3: NVIDIA
 *                                    resiliency extension stops after 3 restart cycles without progress
 * @param backoffInitial              wait before the first restart; doubles for each restart in a row without
 *                                    progress. Default 10 s
 * @param backoffMax                  the longest wait. Default 5 minutes
 * @param divergenceLadder            the knobs of the 1st, 2nd, … rollback after a divergence; one more divergence
 *                                    than there are rungs pauses the run and calls a human. Default OPT-style:
 *                                    1st reset the loss scaler; 2nd also LR × 0.9 and clip 0.3 (OPT cut the LR by
 *                                    10% and lowered clipping from 1.0 to 0.3); 3rd also skip 200 batches (PaLM
 *                                    skipped 200–500 around a spike)
 */
public record RecoveryPolicy(int spikeEwmaSpan, double spikeRatio, int spikeWarmupSteps, double gradNormRatio,
                             double healthyLossScale, int overflowWindow, double maxOverflowRate, int evidenceWindow,
                             long rollbackMarginSteps, int maxSameDivergenceRestarts,
                             double hangStepTimeMultiple, Duration hangFloor,
                             double stragglerFactor, int stragglerWindowSteps, int stragglerConsecutiveWindows,
                             int restartBudget, int noProgressRestarts, Duration backoffInitial, Duration backoffMax,
                             List<LadderRung> divergenceLadder) {

    static final String ROOT = "recoveryPolicy";

    public static final RecoveryPolicy DEFAULT = new RecoveryPolicy(9, 1.5, 20, 10.0,
            1.0, 100, 0.2, 20,
            100, 2,
            10.0, Duration.ofMinutes(10),
            1.4, 50, 3,
            5, 3, Duration.ofSeconds(10), Duration.ofMinutes(5),
            List.of(new LadderRung(true, 1.0, null, 0),
                    new LadderRung(true, 0.9, 0.3, 0),
                    new LadderRung(true, 0.9, 0.3, 200)));

    public RecoveryPolicy {
        atLeast("spikeEwmaSpan", spikeEwmaSpan, 1);
        above("spikeRatio", spikeRatio, 1.0);
        atLeast("spikeWarmupSteps", spikeWarmupSteps, 1);
        above("gradNormRatio", gradNormRatio, 1.0);
        above("healthyLossScale", healthyLossScale, 0.0);
        atLeast("overflowWindow", overflowWindow, 1);
        check(maxOverflowRate > 0 && maxOverflowRate <= 1, "maxOverflowRate",
                "must be above 0 and at most 1, was " + maxOverflowRate);
        atLeast("evidenceWindow", evidenceWindow, 1);
        atLeast("rollbackMarginSteps", rollbackMarginSteps, 0);
        atLeast("maxSameDivergenceRestarts", maxSameDivergenceRestarts, 1);
        above("hangStepTimeMultiple", hangStepTimeMultiple, 1.0);
        positive("hangFloor", hangFloor);
        above("stragglerFactor", stragglerFactor, 1.0);
        atLeast("stragglerWindowSteps", stragglerWindowSteps, 2);
        atLeast("stragglerConsecutiveWindows", stragglerConsecutiveWindows, 1);
        atLeast("restartBudget", restartBudget, 0);
        atLeast("noProgressRestarts", noProgressRestarts, 1);
        positive("backoffInitial", backoffInitial);
        positive("backoffMax", backoffMax);
        check(backoffMax.compareTo(backoffInitial) >= 0, "backoffMax", "must not be shorter than backoffInitial");
        check(divergenceLadder != null, "divergenceLadder", "is required");
        for (int i = 0; i < divergenceLadder.size(); i++) {
            LadderRung rung = divergenceLadder.get(i);
            String at = "divergenceLadder[" + i + "].";
            // stricter than the knobs' own bounds: a rollback after a divergence never raises the LR or drops clipping
            check(rung.lrMultiplier() > 0 && rung.lrMultiplier() <= 1, at + "lrMultiplier",
                    "must be above 0 and at most 1, was " + rung.lrMultiplier());
            check(rung.clipNorm() == null || rung.clipNorm() > 0, at + "clipNorm", "must be above 0, was " + rung.clipNorm());
            check(rung.skipBatches() >= 0, at + "skipBatches", "must be 0 or more, was " + rung.skipBatches());
            try {
                rung.knobs();
            } catch (RestartKnobs.InvalidKnobException e) {
                check(false, at + e.knob(), e.reason());
            }
        }
        divergenceLadder = List.copyOf(divergenceLadder);
    }

    /**
     * The detectors' window: how many of a generation's latest steps (counted back from rank 0's newest) their state
     * is rebuilt from after an orchestrator restart, enough for the weighted means and every window. Every rank's
     * steps in it stay at full resolution (the metric roll-up never touches them).
     */
    public int detectorWindowSteps() {
        return Math.max(Math.max(4 * spikeEwmaSpan, spikeWarmupSteps),
                Math.max(Math.max(overflowWindow, evidenceWindow), stragglerWindowSteps));
    }

    /** The run's stored policy: null, JSON null or {} give the defaults; unknown keys and bad values are refused. */
    public static RecoveryPolicy parse(JsonNode json) {
        if (json == null || json.isNull()) {
            return DEFAULT;
        }
        check(json.isObject(), "", "must be a JSON object");
        Reader r = new Reader(json, ROOT + ".");
        RecoveryPolicy d = DEFAULT;
        RecoveryPolicy policy = new RecoveryPolicy(
                r.integer("spikeEwmaSpan", d.spikeEwmaSpan), r.number("spikeRatio", d.spikeRatio),
                r.integer("spikeWarmupSteps", d.spikeWarmupSteps), r.number("gradNormRatio", d.gradNormRatio),
                r.number("healthyLossScale", d.healthyLossScale), r.integer("overflowWindow", d.overflowWindow),
                r.number("maxOverflowRate", d.maxOverflowRate), r.integer("evidenceWindow", d.evidenceWindow),
                r.longInt("rollbackMarginSteps", d.rollbackMarginSteps),
                r.integer("maxSameDivergenceRestarts", d.maxSameDivergenceRestarts),
                r.number("hangStepTimeMultiple", d.hangStepTimeMultiple), r.duration("hangFloor", d.hangFloor),
                r.number("stragglerFactor", d.stragglerFactor),
                r.integer("stragglerWindowSteps", d.stragglerWindowSteps),
                r.integer("stragglerConsecutiveWindows", d.stragglerConsecutiveWindows),
                r.integer("restartBudget", d.restartBudget), r.integer("noProgressRestarts", d.noProgressRestarts),
                r.duration("backoffInitial", d.backoffInitial), r.duration("backoffMax", d.backoffMax),
                ladder(r, d.divergenceLadder));
        r.refuseUnknown();
        return policy;
    }

    private static List<LadderRung> ladder(Reader r, List<LadderRung> fallback) {
        JsonNode node = r.take("divergenceLadder");
        if (node == null) {
            return fallback;
        }
        check(node.isArray(), "divergenceLadder", "must be an array of rungs");
        List<LadderRung> rungs = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            String at = "divergenceLadder[" + i + "]";
            check(item.isObject(), at, "must be a JSON object");
            Reader rr = new Reader(item, ROOT + "." + at + ".");
            JsonNode clip = rr.take("clipNorm");
            Double clipNorm = null;
            if (clip != null && !clip.isNull()) {
                check(clip.isNumber(), at + ".clipNorm", "must be a number");
                clipNorm = clip.doubleValue();
            }
            rungs.add(new LadderRung(rr.bool("resetLossScaler", false), rr.number("lrMultiplier", 1.0), clipNorm,
                    rr.longInt("skipBatches", 0)));
            rr.refuseUnknown();
        }
        return rungs;
    }

    private static void check(boolean ok, String field, String message) {
        if (!ok) {
            throw new InvalidRecoveryPolicyException(field.isEmpty() ? ROOT : ROOT + "." + field, message);
        }
    }

    private static void atLeast(String field, long value, long min) {
        check(value >= min, field, "must be at least " + min + ", was " + value);
    }

    private static void above(String field, double value, double min) {
        check(Double.isFinite(value) && value > min, field, "must be a finite number above " + min + ", was " + value);
    }

    private static void positive(String field, Duration value) {
        check(value != null && !value.isNegative() && !value.isZero(), field, "must be a positive ISO-8601 duration such as PT10M");
    }

    /** Takes named keys out of one JSON object, so that whatever is left over is an unknown key. */
    private static final class Reader {
        private final JsonNode node;
        private final String prefix;
        private final Set<String> taken = new HashSet<>();

        Reader(JsonNode node, String prefix) {
            this.node = node;
            this.prefix = prefix;
        }

        JsonNode take(String key) {
            taken.add(key);
            return node.get(key);
        }

        double number(String key, double fallback) {
            JsonNode v = take(key);
            if (v == null) {
                return fallback;
            }
            require(v.isNumber(), key, "must be a number");
            return v.doubleValue();
        }

        long longInt(String key, long fallback) {
            JsonNode v = take(key);
            if (v == null) {
                return fallback;
            }
            require(v.isIntegralNumber() && v.canConvertToLong(), key, "must be a whole number");
            return v.longValue();
        }

        int integer(String key, int fallback) {
            long v = longInt(key, fallback);
            require(v == (int) v, key, "is too large");
            return (int) v;
        }

        boolean bool(String key, boolean fallback) {
            JsonNode v = take(key);
            if (v == null) {
                return fallback;
            }
            require(v.isBoolean(), key, "must be true or false");
            return v.booleanValue();
        }

        Duration duration(String key, Duration fallback) {
            JsonNode v = take(key);
            if (v == null) {
                return fallback;
            }
            require(v.isString(), key, "must be an ISO-8601 duration such as PT10M");
            try {
                return Duration.parse(v.asString());
            } catch (DateTimeParseException e) {
                throw new InvalidRecoveryPolicyException(prefix + key,
                        "must be an ISO-8601 duration such as PT10M, was " + v.asString());
            }
        }

        void refuseUnknown() {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                require(taken.contains(e.getKey()), e.getKey(), "is not a recovery-policy setting");
            }
        }

        private void require(boolean ok, String key, String message) {
            if (!ok) {
                throw new InvalidRecoveryPolicyException(prefix + key, message);
            }
        }
    }
}
