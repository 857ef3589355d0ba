package dev.steadyrun.soak;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * TEST TOOL — the failure trace the soak replays: when failures happen and of which kind, drawn from a seeded
 * random generator so a seed gives the same trace every time.
 *
 * <p>The cause mix is Llama 3 405B's 419 unexpected interruptions (Meta, "The Llama 3 Herd of Models", table 5),
 * mapped onto what a node can do to a run: faulty GPU, HBM3, SRAM, GSP and thermal (57.3 %) are fatal XIDs; software
 * bugs and dependencies (13.4 %) trainer crashes; host maintenance, SSD, power, chassis, CPU, memory (11.0 %) lost
 * nodes; network switch, cable and NIC (10.1 %) a partitioned node; NCCL watchdog timeouts (1.7 %) hangs. That paper
 * does not count loss divergences, stragglers, corrupt checkpoints, simultaneous failures or whole racks; OPT's
 * logbook had dozens of divergences in 54 days, so those get small weights of our own (named below). The rate is
 * Kokolis et al. (arXiv 2410.21680): job MTTF 7.9 h at 1,024 GPUs, i.e. one failure per 8,090 GPU-hours.
 *
 * <p>A soak compresses the rate ({@link #eventsFor}) so tens of minutes see hundreds of failures, and raises each
 * kind to at least {@code minShare} of the draws so rare kinds are exercised; the goodput projection weighs the
 * measured losses by the anchor mix ({@link Cause#anchorWeight}), not by the soak's boosted one.
 */
public final class TraceModel {

    /** One failure cause and its share of real interruptions (percent). */
    public enum Cause {
        FATAL_XID(57.3),
        TRAINER_CRASH(13.4),
        NODE_LOSS(11.0),
        PARTITION(10.1),
        HANG(1.7),
        /** ours: OPT-175B's logbook (about 1 % of its restarts were hardware-free divergences at 992 GPUs) */
        DIVERGENCE(3.0),
        /** ours: a slow node; Llama 3 names none, ByteRobust counts them among "slow" incidents */
        STRAGGLER(2.0),
        /** ours: a restore that finds its newest checkpoint corrupt (a crash then finds it) */
        CORRUPT_CHECKPOINT(1.0),
        /** ours: two or three of the above at the same instant */
        SEVERAL_AT_ONCE(1.0),
        /** ours: a top-of-rack switch or PDU takes a whole rack */
        RACK_LOSS(0.5);

        private final double anchorWeight;

        Cause(double anchorWeight) {
            this.anchorWeight = anchorWeight;
        }

        public double anchorWeight() {
            return anchorWeight;
        }

        /** The anchor mix as probabilities (sums to 1). */
        public static Map<Cause, Double> anchorMix() {
            double total = 0;
            for (Cause c : values()) {
                total += c.anchorWeight;
            }
            Map<Cause, Double> mix = new EnumMap<>(Cause.class);
            for (Cause c : values()) {
                mix.put(c, c.anchorWeight / total);
            }
            return mix;
        }
    }

    /** Failures per GPU-hour at the Kokolis anchor: 1 / (7.9 h × 1,024 GPUs). */
    public static final double FAILURES_PER_GPU_HOUR = 1.0 / (7.9 * 1024);

    /** A failure at {@code atSeconds} of soak time; {@code pick} chooses victims reproducibly. */
    public record Event(double atSeconds, Cause cause, long pick) {
    }

    private final double minShare;

    public TraceModel(double minShare) {
        if (minShare < 0 || minShare * Cause.values().length > 1) {
            throw new IllegalArgumentException("minShare must be 0 to 1/" + Cause.values().length + ", was " + minShare);
        }
        this.minShare = minShare;
    }

    /** The soak's cause mix: the anchor mix with every cause raised to at least {@code minShare}, renormalized. */
    public Map<Cause, Double> soakMix() {
        Map<Cause, Double> anchor = Cause.anchorMix();
        Map<Cause, Double> raised = new EnumMap<>(Cause.class);
        double total = 0;
        for (Cause c : Cause.values()) {
            double p = Math.max(anchor.get(c), minShare);
            raised.put(c, p);
            total += p;
        }
        for (Cause c : Cause.values()) {
            raised.put(c, raised.get(c) / total);
        }
        return raised;
    }

    /**
     * The failures of a soak of {@code seconds}: a Poisson process with mean gap {@code meanGapSeconds}
     * (exponential gaps), each cause drawn from {@link #soakMix()}.
     */
    public List<Event> eventsFor(long seed, double seconds, double meanGapSeconds) {
        if (meanGapSeconds <= 0) {
            throw new IllegalArgumentException("meanGapSeconds must be positive");
        }
        SplittableRandom random = new SplittableRandom(seed);
        Map<Cause, Double> mix = soakMix();
        List<Event> events = new ArrayList<>();
        double t = 0;
        while (true) {
            t += -meanGapSeconds * Math.log(1 - random.nextDouble());
            if (t >= seconds) {
                return events;
            }
            double u = random.nextDouble();
            Cause chosen = Cause.values()[Cause.values().length - 1];
            for (Cause c : Cause.values()) {
                u -= mix.get(c);
                if (u < 0) {
                    chosen = c;
                    break;
                }
            }
            events.add(new Event(t, chosen, random.nextLong()));
        }
    }

    /**
     * How much the soak compresses failure rates: a run of {@code gpus} GPUs fails every MTTF = 1 / (rate × gpus) real
     * hours; the soak fails every {@code meanGapSeconds}.
     */
    public static double rateCompression(int gpus, double meanGapSeconds) {
        double mttfSeconds = 3600 / (FAILURES_PER_GPU_HOUR * gpus);
        return mttfSeconds / meanGapSeconds;
    }
}
