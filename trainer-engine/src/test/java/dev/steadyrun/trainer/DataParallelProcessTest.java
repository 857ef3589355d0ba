package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLines;

/** Ranks as the worker-agent launches them: real trainer JVMs on a real ring, their exit codes and stderr. */
class DataParallelProcessTest {
    private static final int PEER_TIMEOUT_SECONDS = 5;

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    private static Process rank(Path dir, int rank, int world, long generation, int port, String... sets)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "train",
                "--checkpoint-dir", dir.resolve("ck" + rank).toString(), "--rank", String.valueOf(rank),
                "--world-size", String.valueOf(world), "--generation", String.valueOf(generation),
                "--rendezvous", "127.0.0.1:" + port, "--json"));
        TrainerTest.small("microBatch", "2", "batchTokens", String.valueOf(64 * world), "threads", "1",
                "peerTimeoutSeconds", String.valueOf(PEER_TIMEOUT_SECONDS), "rendezvousTimeoutSeconds", "20")
                .forEach((k, v) -> {
                    cmd.add("--set");
                    cmd.add(k + "=" + v);
                });
        for (String s : sets) {
            cmd.add("--set");
            cmd.add(s);
        }
        return new ProcessBuilder(cmd).redirectError(dir.resolve("rank" + rank + ".err").toFile()).start();
    }

    /** Counts down when the process prints its first metrics line; drains the rest of its stdout. */
    private static void onFirstStep(Process p, CountDownLatch latch) {
        onFirstStep(p, latch, new AtomicLong());
    }

    /** As above, and keeps the step of the last metrics line in lastStep. */
    private static Thread onFirstStep(Process p, CountDownLatch latch, AtomicLong lastStep) {
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                boolean counted = false;
                for (String line; (line = out.readLine()) != null; ) {
                    var metrics = TrainerLines.parse(line).filter(StepMetrics.class::isInstance)
                            .map(StepMetrics.class::cast);
                    metrics.ifPresent(m -> lastStep.set(m.step()));
                    if (!counted && metrics.isPresent()) {
                        latch.countDown();
                        counted = true;
                    }
                }
            } catch (IOException ended) {
                // the process ended
            }
        });
        reader.setDaemon(true);
        reader.start();
        return reader;
    }

    /**
     * Three ranks train from the command line; rank 1 is SIGKILLed mid-run; ranks 0 and 2 exit PEER_LOST (5) with
     * a clear message, within the peer timeout (in practice at once: the dead rank's sockets are closed by the
     * kernel, and the failure travels round the ring).
     */
    @Test
    void aKilledRankMakesTheOthersExitPeerLost(@TempDir Path dir) throws Exception {
        int port = DataParallelTest.freePort();
        List<Process> ranks = new ArrayList<>();
        CountDownLatch stepped = new CountDownLatch(3);
        try {
            for (int r = 0; r < 3; r++) {
                Process p = rank(dir, r, 3, 4, port, "maxSteps=100000");
                onFirstStep(p, stepped);
                ranks.add(p);
            }
            assertThat(stepped.await(180, TimeUnit.SECONDS)).as("every rank finished a step").isTrue();
            ranks.get(1).destroyForcibly();
            for (int r : new int[] {0, 2}) {
                Process p = ranks.get(r);
                assertThat(p.waitFor(PEER_TIMEOUT_SECONDS + 30, TimeUnit.SECONDS)).as("rank %d exited", r).isTrue();
                String err = Files.readString(dir.resolve("rank" + r + ".err"));
                assertThat(p.exitValue()).as("rank %d exit; stderr %s", r, err).isEqualTo(ExitCodes.PEER_LOST);
                assertThat(err).contains("error: data parallel: rank " + r + "/3").contains("peer lost");
            }
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    /**
     * SIGTERM to rank 0 only: both ranks stop after the same step (the stop request is all-reduced with the step's
     * scalars); rank 0 exits 143, rank 1, which was not asked to stop, exits 5 rather than 0 ("done").
     */
    @Test
    void sigtermOnOneRankStopsBothAfterTheSameStep(@TempDir Path dir) throws Exception {
        int port = DataParallelTest.freePort();
        List<Process> ranks = new ArrayList<>();
        List<Thread> readers = new ArrayList<>();
        List<AtomicLong> lastSteps = List.of(new AtomicLong(), new AtomicLong());
        CountDownLatch stepped = new CountDownLatch(2);
        try {
            for (int r = 0; r < 2; r++) {
                Process p = rank(dir, r, 2, 1, port, "maxSteps=100000");
                readers.add(onFirstStep(p, stepped, lastSteps.get(r)));
                ranks.add(p);
            }
            assertThat(stepped.await(180, TimeUnit.SECONDS)).as("every rank finished a step").isTrue();
            ranks.get(0).toHandle().destroy();   // SIGTERM
            for (int r = 0; r < 2; r++) {
                assertThat(ranks.get(r).waitFor(60, TimeUnit.SECONDS)).as("rank %d exited", r).isTrue();
            }
            String err1 = Files.readString(dir.resolve("rank1.err"));
            assertThat(ranks.get(0).exitValue()).isEqualTo(ExitCodes.TERMINATED);
            assertThat(ranks.get(1).exitValue()).as("rank 1 exit; stderr %s", err1).isEqualTo(ExitCodes.PEER_LOST);
            assertThat(err1).contains("because another rank was asked to stop");
            for (Thread t : readers) {
                t.join(10_000);
            }
            assertThat(lastSteps.get(1).get()).as("last step of each rank").isPositive()
                    .isEqualTo(lastSteps.get(0).get());
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    /**
     * A rank of an older generation is refused at rendezvous and exits STALE_GENERATION (6); rank 0 of the new
     * generation, its ring never complete, gives up after the rendezvous timeout with PEER_LOST naming the missing
     * rank.
     */
    @Test
    void aStaleGenerationRankIsRefused(@TempDir Path dir) throws Exception {
        int port = DataParallelTest.freePort();
        Process current = rank(dir, 0, 2, 7, port, "rendezvousTimeoutSeconds=8");
        Process stale = rank(dir, 1, 2, 6, port);
        try {
            assertThat(stale.waitFor(120, TimeUnit.SECONDS)).isTrue();
            String err = Files.readString(dir.resolve("rank1.err"));
            assertThat(stale.exitValue()).as("stale rank exit; stderr %s", err).isEqualTo(ExitCodes.STALE_GENERATION);
            assertThat(err).contains("generation 6").contains("stale");

            assertThat(current.waitFor(120, TimeUnit.SECONDS)).isTrue();
            String err0 = Files.readString(dir.resolve("rank0.err"));
            assertThat(current.exitValue()).as("rank 0 exit; stderr %s", err0).isEqualTo(ExitCodes.PEER_LOST);
            assertThat(err0).contains("ranks [1] of 2 did not join");
        } finally {
            current.destroyForcibly();
            stale.destroyForcibly();
        }
    }
}
