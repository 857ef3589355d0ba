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
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLines;

/** Ranks as the worker-agent launches them: real trainer JVMs on a real ring, their exit codes and stderr. */
class DataParallelProcessTest {
    private static final int PEER_TIMEOUT_SECONDS = 5;

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    /** A generation's ring secret: each generation its own, as the orchestrator draws them. */
    private static RingSecret secretOf(long generation) {
        return RingSecret.of(("generation-" + generation + "-ring-secret-for-tests").getBytes(StandardCharsets.UTF_8));
    }

    private static Process rank(Path dir, int rank, int world, long generation, int port, String... sets)
            throws IOException {
        return rank(dir, "rank" + rank, rank, world, generation, port, secretOf(generation), sets);
    }

    /** A rank as the agent starts it: the ring secret in the environment, stderr in {@code name.err}. */
    private static Process rank(Path dir, String name, int rank, int world, long generation, int port,
                                RingSecret secret, String... sets) throws IOException {
        return trainer(dir, name, List.of("--checkpoint-dir", dir.resolve("ck" + rank).toString(), "--rank",
                String.valueOf(rank), "--world-size", String.valueOf(world), "--generation", String.valueOf(generation),
                "--rendezvous", "127.0.0.1:" + port), world, secret, sets);
    }

    /**
     * A trainer JVM with the given arguments, the small test model's config for {@code world} ranks and the extra
     * {@code --set}s; the ring secret in the environment, stderr in {@code name.err}.
     */
    static Process trainer(Path dir, String name, List<String> args, int world, RingSecret secret, String... sets)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "train", "--json"));
        cmd.addAll(args);
        config(world, sets).forEach((k, v) -> {
            cmd.add("--set");
            cmd.add(k + "=" + v);
        });
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectError(dir.resolve(name + ".err").toFile());
        builder.environment().put(RingSecret.ENV, secret.value());
        return builder.start();
    }

    /** The small test model's config for {@code world} ranks, with the extra {@code key=value}s laid over it. */
    static Map<String, String> config(int world, String... sets) {
        Map<String, String> config = TrainerTest.small("microBatch", "2", "batchTokens", String.valueOf(64 * world),
                "threads", "1", "peerTimeoutSeconds", String.valueOf(PEER_TIMEOUT_SECONDS), "rendezvousTimeoutSeconds",
                "20");
        config.putAll(TrainConfig.parseOverrides(List.of(sets)));
        return config;
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
     * Tensor parallel 2 × data parallel 2 as four trainer processes (tensor groups {0, 1} and {2, 3}, data groups
     * {0, 2} and {1, 3}): SIGKILL of rank 1 breaks its tensor group and its data group, and the failure reaches the
     * rank that shares no group with it (2) through rank 0: every other rank exits PEER_LOST, none hangs.
     */
    @Test
    void aKilledTensorParallelRankStopsTheRanksOfEveryGroup(@TempDir Path dir) throws Exception {
        int port = DataParallelTest.freePort();
        List<Process> ranks = new ArrayList<>();
        CountDownLatch stepped = new CountDownLatch(4);
        try {
            for (int r = 0; r < 4; r++) {
                Process p = rank(dir, r, 4, 2, port, "maxSteps=100000", "tensorParallel=2");
                onFirstStep(p, stepped);
                ranks.add(p);
            }
            assertThat(stepped.await(240, TimeUnit.SECONDS)).as("every rank finished a step").isTrue();
            ranks.get(1).destroyForcibly();
            for (int r : new int[] {0, 2, 3}) {
                Process p = ranks.get(r);
                assertThat(p.waitFor(PEER_TIMEOUT_SECONDS + 30, TimeUnit.SECONDS)).as("rank %d exited", r).isTrue();
                String err = Files.readString(dir.resolve("rank" + r + ".err"));
                assertThat(p.exitValue()).as("rank %d exit; stderr %s", r, err).isEqualTo(ExitCodes.PEER_LOST);
                assertThat(err).contains("peer lost");
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
     * Knowing the run id and the generation is not enough (issue 15). Trainers with another secret try first: one
     * claiming a newer generation, then one claiming rank 1. Rank 0 drops both without exiting, and trains with the
     * real rank 1; no log shows the secret.
     */
    @Test
    void trainersWithoutTheRingSecretCannotJoinOrStopTheRing(@TempDir Path dir) throws Exception {
        int port = DataParallelTest.freePort();
        RingSecret secret = secretOf(7);
        List<Process> all = new ArrayList<>();
        try {
            Process rank0 = rank(dir, "rank0", 0, 2, 7, port, secret, "maxSteps=100000");
            all.add(rank0);
            Process newer = rank(dir, "newer", 1, 2, 8, port, RingSecret.random());
            all.add(newer);
            assertThat(newer.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.readString(dir.resolve("newer.err")))
                    .contains("did not prove this generation's ring secret");
            Process intruder = rank(dir, "intruder", 1, 2, 7, port, RingSecret.random());
            all.add(intruder);
            assertThat(intruder.waitFor(120, TimeUnit.SECONDS)).as("the intruder is turned away").isTrue();
            String intruderErr = Files.readString(dir.resolve("intruder.err"));
            assertThat(intruder.exitValue()).as("intruder exit; stderr %s", intruderErr).isEqualTo(ExitCodes.PEER_LOST);
            assertThat(intruderErr).contains("did not prove this generation's ring secret");
            assertThat(rank0.isAlive()).as("rank 0 after the intruders; stderr %s",
                    Files.readString(dir.resolve("rank0.err"))).isTrue();

            Process rank1 = rank(dir, "rank1", 1, 2, 7, port, secret, "maxSteps=100000");
            all.add(rank1);
            CountDownLatch stepped = new CountDownLatch(2);
            onFirstStep(rank0, stepped);
            onFirstStep(rank1, stepped);
            assertThat(stepped.await(180, TimeUnit.SECONDS)).as("the real ranks trained").isTrue();
            assertThat(Files.readString(dir.resolve("rank0.err"))).contains("before it proved the ring secret");
            for (String name : List.of("rank0", "newer", "intruder", "rank1")) {
                assertThat(Files.readString(dir.resolve(name + ".err"))).as(name).doesNotContain(secret.value());
            }
        } finally {
            all.forEach(Process::destroyForcibly);
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
