package dev.steadyrun.agent.gpu;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuProbeFault;

/**
 * Reads the GPUs on its own thread, so that a probe that hangs (nvidia-smi on a wedged GPU, typical after XID 79)
 * never holds up a heartbeat. The heartbeat takes {@link #report()}: the last good reading, the XIDs since the
 * previous heartbeat, and, once no reading succeeded for {@code degradedAfter} (or {@code fatalAfter}), a
 * {@link GpuProbeFault}: a GPU that cannot be read is itself a health signal.
 */
public final class GpuHealthWatch {

    private static final Logger log = LoggerFactory.getLogger(GpuHealthWatch.class);

    private record Reading(List<GpuHealth> gpus, Instant at) {
    }

    private final GpuProbe probe;
    private final Clock clock;
    private final Duration degradedAfter;
    private final Duration fatalAfter;
    private volatile Reading last;
    private ScheduledExecutorService thread;
    private volatile GpuProbeFault.Severity reported;

    /** The age of the readings counts from now until the first good one. */
    public GpuHealthWatch(GpuProbe probe, Clock clock, Duration degradedAfter, Duration fatalAfter) {
        this.probe = probe;
        this.clock = clock;
        this.degradedAfter = degradedAfter;
        this.fatalAfter = fatalAfter;
        this.last = new Reading(List.of(), clock.instant());
    }

    /**
     * Reads the GPUs once here (bounded by the probe's timeout), so the first heartbeat has a reading, then every
     * {@code interval} after the previous read ended, on a thread of its own: a read stuck past every deadline (a
     * process in uninterruptible sleep) holds up nothing else.
     */
    public void start(Duration interval) {
        probeOnce();
        thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gpu-probe");
            t.setDaemon(true);
            return t;
        });
        thread.scheduleWithFixedDelay(this::probeOnce, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    public void stop() {
        if (thread != null) {
            thread.shutdownNow();
        }
    }

    /** One reading; kept only when it succeeded (an empty reading of a node with GPUs is a failed one). */
    void probeOnce() {
        try {
            List<GpuHealth> gpus = probe.readings();
            if (!gpus.isEmpty()) {
                last = new Reading(gpus, clock.instant());
            }
        } catch (RuntimeException e) {
            log.warn("GPU probe failed", e);
        }
    }

    /** For the heartbeat: never blocks. */
    public GpuReport report() {
        Reading r = last;
        Duration age = Duration.between(r.at(), clock.instant());
        GpuProbeFault.Severity severity = age.compareTo(fatalAfter) >= 0 ? GpuProbeFault.Severity.FATAL
                : age.compareTo(degradedAfter) >= 0 ? GpuProbeFault.Severity.DEGRADED : null;
        if (severity != reported) {
            if (severity == null) {
                log.info("GPU probe answers again");
            } else {
                log.warn("no good GPU reading for {} s: reporting the GPU probe {}", age.toSeconds(), severity);
            }
            reported = severity;
        }
        // XIDs wait in the probe until there is a reading to attach them to
        List<GpuHealth> gpus = r.gpus().isEmpty() ? r.gpus() : GpuProbe.withXids(r.gpus(), probe.xids());
        return new GpuReport(gpus, severity == null ? null : new GpuProbeFault(severity, age.toSeconds()));
    }
}
