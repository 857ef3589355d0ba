package dev.steadyrun.agent.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.testing.MutableClock;
import dev.steadyrun.protocol.GpuProbeFault;

/** The age of the last good reading, judged by an injected clock: the probe's own thread is driven by hand. */
class GpuHealthWatchTest {

    @Test
    void aProbeThatKeepsTimingOutIsReportedDegradedThenFatalWithTheLastGoodReading(@TempDir Path dir)
            throws Exception {
        FakeNvidiaSmi smi = new FakeNvidiaSmi(dir);
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        try {
            GpuProbe probe = NvidiaSmiProbe.detect(smi.executable().toString(), dir.resolve("no-kmsg"),
                    Duration.ofMillis(300));
            GpuHealthWatch watch = new GpuHealthWatch(probe, clock, Duration.ofSeconds(30), Duration.ofSeconds(120));
            watch.probeOnce();
            GpuReport fresh = watch.report();
            assertThat(fresh.gpus()).hasSize(1);
            assertThat(fresh.probeFault()).isNull();

            Files.createFile(smi.hang());
            clock.advance(Duration.ofSeconds(5));
            watch.probeOnce();   // times out: the reading stays the last good one
            clock.advance(Duration.ofSeconds(24));
            assertThat(watch.report().probeFault()).as("29 s without a good reading").isNull();

            clock.advance(Duration.ofSeconds(2));
            watch.probeOnce();
            GpuReport degraded = watch.report();
            assertThat(degraded.probeFault()).isEqualTo(new GpuProbeFault(GpuProbeFault.Severity.DEGRADED, 31));
            assertThat(degraded.gpus()).as("the last good reading").isEqualTo(fresh.gpus());

            clock.advance(Duration.ofSeconds(89));
            assertThat(watch.report().probeFault())
                    .isEqualTo(new GpuProbeFault(GpuProbeFault.Severity.FATAL, 120));

            Files.delete(smi.hang());
            watch.probeOnce();
            assertThat(watch.report().probeFault()).as("nvidia-smi answers again").isNull();
        } finally {
            smi.killAll();
        }
    }

    @Test
    void aProbeThatNeverAnsweredAgesFromTheStart() {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        GpuHealthWatch watch = new GpuHealthWatch(GpuProbe.CPU_ONLY, clock, Duration.ofSeconds(30),
                Duration.ofSeconds(120));
        watch.probeOnce();   // an empty reading is a failed one on a node with GPUs
        clock.advance(Duration.ofSeconds(30));
        assertThat(watch.report()).isEqualTo(new GpuReport(java.util.List.of(),
                new GpuProbeFault(GpuProbeFault.Severity.DEGRADED, 30)));
    }
}
