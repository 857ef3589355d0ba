package dev.steadyrun.soak;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import dev.steadyrun.soak.TraceModel.Cause;

/**
 * TEST TOOL — the goodput arithmetic of a soak: each recovery's loss split into phases, back in real time, per cause
 * (median, p95), projected to real failure rates, and the same failures priced under a baseline policy. Pure.
 *
 * <p>Real time: the orchestrator's own timers (leases, backoff, scheduling) ran in real time and are taken as
 * measured; what the simulated trainers did on their compressed step clock — steps, the straggler and divergence
 * windows, the hang floor (set to its real value ÷ compression) and the restore — is multiplied by the compression.
 * A human's wait is priced at {@code humanSeconds} (real) wherever the soak's operator stood in.
 */
final class GoodputReport {

    /** One recovery as the soak timed it, in soak seconds; {@code humanSeconds} is the part of restart a human took. */
    record Episode(Cause cause, int faults, double detect, double stop, double restart, double restore,
                   long lostSteps, double humanSeconds, long generation) {
    }

    /** One recovery in real seconds. */
    record RealLoss(double detect, double stop, double restart, double restore, double lostWork) {
        double downtime() {
            return detect + stop + restart + restore;
        }

        double total() {
            return downtime() + lostWork;
        }
    }

    /**
     * @param compression       real seconds per soak second on the trainers' step clock
     * @param realStepSeconds   one real step
     * @param humanSeconds      a human's wait, real (the baseline waits this on every divergence)
     * @param nodeWaitSeconds   the baseline's wait for a replacement node (it has no spares), real
     */
    record Params(double compression, double realStepSeconds, double humanSeconds, double nodeWaitSeconds) {
    }

    record Stats(int n, double median, double p95, double mean) {
        static Stats of(double[] values) {
            if (values.length == 0) {
                return new Stats(0, Double.NaN, Double.NaN, Double.NaN);
            }
            double[] v = values.clone();
            Arrays.sort(v);
            return new Stats(v.length, percentile(v, 0.5), percentile(v, 0.95), Arrays.stream(v).average().orElse(0));
        }
    }

    record CauseRow(Cause cause, int failures, Stats detect, Stats stop, Stats restart, Stats restore, Stats lostWork,
                    Stats total, double meanBaselineTotal) {
    }

    record Projection(String label, double mttfHours, double goodput, double baselineGoodput) {
    }

    record Result(List<CauseRow> causes, List<Projection> projections, double meanDowntime, double meanLostWork,
                  double baselineMeanDowntime, double baselineMeanLostWork) {
    }

    /** Causes whose detection runs on the trainers' step clock (windows of steps, or the hang floor). */
    static final Set<Cause> STEP_CLOCK_DETECTION = EnumSet.of(Cause.HANG, Cause.STRAGGLER, Cause.DIVERGENCE);
    /** Causes that take a node out of the run: without spares the baseline waits for a replacement. */
    static final Set<Cause> REPLACES_NODE = EnumSet.of(Cause.FATAL_XID, Cause.NODE_LOSS, Cause.PARTITION,
            Cause.STRAGGLER, Cause.RACK_LOSS, Cause.SEVERAL_AT_ONCE);
    /** Causes a human handles in the baseline (it has no divergence ladder and no straggler scorer). */
    static final Set<Cause> HUMAN_IN_BASELINE = EnumSet.of(Cause.DIVERGENCE, Cause.STRAGGLER);

    private GoodputReport() {
    }

    static RealLoss real(Episode e, Params p) {
        double detect = STEP_CLOCK_DETECTION.contains(e.cause()) ? e.detect() * p.compression() : e.detect();
        double restart = e.restart() - e.humanSeconds() + (e.humanSeconds() > 0 ? p.humanSeconds() : 0);
        return new RealLoss(detect, e.stop(), restart, e.restore() * p.compression(),
                e.lostSteps() * p.realStepSeconds());
    }

    /** The same failure under the baseline: a human on divergences and stragglers, a wait for a node instead of a spare. */
    static RealLoss baseline(Episode e, Params p) {
        RealLoss ours = real(e, p);
        double detect = ours.detect() + (HUMAN_IN_BASELINE.contains(e.cause()) ? p.humanSeconds() : 0);
        // our restart minus any human wait of ours (the baseline's own is in detect), plus the wait for a node
        double restart = e.restart() - e.humanSeconds() + (REPLACES_NODE.contains(e.cause()) ? p.nodeWaitSeconds() : 0);
        return new RealLoss(detect, ours.stop(), restart, ours.restore(), ours.lostWork());
    }

    /** Goodput when a failure comes every {@code mttf} seconds of running and costs this downtime and lost work. */
    /** One interval of the soak (about a minute): goodput on the step clock, and the failures injected in it. */
    record Minute(double fromSeconds, double toSeconds, double goodput, int failures) {
    }

    /**
     * Goodput over time: between consecutive samples from {@code from} (soak seconds) on, the steps taken × the step
     * time ÷ the interval (1 when the run stepped all along), and the failures injected in the interval.
     */
    static List<Minute> overTime(List<Fleet.Progress> progress, double from, double stepSeconds) {
        List<Minute> out = new java.util.ArrayList<>();
        Fleet.Progress prev = null;
        for (Fleet.Progress p : progress) {
            if (p.at() < from) {
                continue;
            }
            if (prev != null && p.at() > prev.at()) {
                out.add(new Minute(prev.at() - from, p.at() - from,
                        Math.min(1, (p.steps() - prev.steps()) * stepSeconds / (p.at() - prev.at())),
                        p.failures() - prev.failures()));
            }
            prev = p;
        }
        return out;
    }

    static double goodput(double mttfSeconds, double meanDowntime, double meanLostWork) {
        return Math.max(0, mttfSeconds - meanLostWork) / (mttfSeconds + meanDowntime);
    }

    static Result build(List<Episode> episodes, Params p) {
        Map<Cause, List<Episode>> byCause = new EnumMap<>(Cause.class);
        for (Episode e : episodes) {
            byCause.computeIfAbsent(e.cause(), c -> new ArrayList<>()).add(e);
        }
        List<CauseRow> rows = new ArrayList<>();
        Map<Cause, double[]> meanOf = new EnumMap<>(Cause.class); // downtime, lost work, baseline downtime, lost
        for (Map.Entry<Cause, List<Episode>> entry : byCause.entrySet()) {
            List<Episode> list = entry.getValue();
            int n = list.size();
            double[] detect = new double[n], stop = new double[n], restart = new double[n], restore = new double[n],
                    lost = new double[n], total = new double[n];
            double baseDown = 0, baseLost = 0;
            for (int i = 0; i < n; i++) {
                RealLoss r = real(list.get(i), p);
                RealLoss b = baseline(list.get(i), p);
                detect[i] = r.detect();
                stop[i] = r.stop();
                restart[i] = r.restart();
                restore[i] = r.restore();
                lost[i] = r.lostWork();
                total[i] = r.total();
                baseDown += b.downtime();
                baseLost += b.lostWork();
            }
            Stats t = Stats.of(total);
            Stats lostWork = Stats.of(lost);
            rows.add(new CauseRow(entry.getKey(), n, Stats.of(detect), Stats.of(stop), Stats.of(restart),
                    Stats.of(restore), lostWork, t, (baseDown + baseLost) / n));
            meanOf.put(entry.getKey(), new double[]{t.mean() - lostWork.mean(), lostWork.mean(), baseDown / n,
                    baseLost / n});
        }
        // weigh by the anchor mix; a cause the soak never saw takes the mean of the ones it did
        double[] overall = new double[4];
        for (double[] m : meanOf.values()) {
            for (int k = 0; k < 4; k++) {
                overall[k] += m[k] / meanOf.size();
            }
        }
        double[] weighted = new double[4];
        for (Map.Entry<Cause, Double> w : Cause.anchorMix().entrySet()) {
            double[] m = meanOf.getOrDefault(w.getKey(), overall);
            for (int k = 0; k < 4; k++) {
                weighted[k] += w.getValue() * m[k];
            }
        }
        List<Projection> projections = new ArrayList<>();
        if (!meanOf.isEmpty()) {
            for (double[] anchor : new double[][]{{7.9, 1024}, {1.8, 16384}}) {
                double mttf = anchor[0] * 3600;
                projections.add(new Projection(String.format(Locale.ROOT, "MTTF %.1f h (%,d GPUs)", anchor[0],
                        (int) anchor[1]), anchor[0], goodput(mttf, weighted[0], weighted[1]),
                        goodput(mttf, weighted[2], weighted[3])));
            }
        }
        return new Result(rows, projections, weighted[0], weighted[1], weighted[2], weighted[3]);
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static String markdown(Result r, Params p) {
        StringBuilder md = new StringBuilder();
        md.append("| cause | failures | detection | stop | restart | restore | lost work | total (median / p95) |"
                + " baseline mean |\n|---|---|---|---|---|---|---|---|---|\n");
        for (CauseRow c : r.causes()) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s | %s | %.0f s |%n",
                    c.cause(), c.failures(), cell(c.detect()), cell(c.stop()), cell(c.restart()), cell(c.restore()),
                    cell(c.lostWork()), cell(c.total()), c.meanBaselineTotal()));
        }
        md.append(String.format(Locale.ROOT, "%nSeconds, real time (median / p95). Weighted by the anchor mix: downtime "
                        + "%.0f s + lost work %.0f s per failure; baseline %.0f s + %.0f s.%n%n",
                r.meanDowntime(), r.meanLostWork(), r.baselineMeanDowntime(), r.baselineMeanLostWork()));
        md.append("| projected to | goodput | baseline |\n|---|---|---|\n");
        for (Projection pr : r.projections()) {
            md.append(String.format(Locale.ROOT, "| %s | %.2f %% | %.2f %% |%n", pr.label(), 100 * pr.goodput(),
                    100 * pr.baselineGoodput()));
        }
        md.append(String.format(Locale.ROOT, "%nCompression %.1f× on the trainers' step clock (real step %.1f s); "
                        + "human wait %.0f s; baseline node wait %.0f s.%n", p.compression(), p.realStepSeconds(),
                p.humanSeconds(), p.nodeWaitSeconds()));
        return md.toString();
    }

    private static String cell(Stats s) {
        return s.n() == 0 ? "–" : String.format(Locale.ROOT, "%.1f / %.1f", s.median(), s.p95());
    }
}
