package dev.steadyrun.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerLines;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Memory snapshots with real trainer JVMs on a real ring, each rank with its own "node" snapshot root: three ranks
 * train with a snapshot every 2 steps, then every trainer is killed (a cold restart relaunches them all) and rank 1's
 * node is lost with its memory. A new generation of three, a fresh rank 1 on an empty node among them, restores the
 * snapshot from what the survivors hold (rank 1's shard from rank 2's replica) and trains on bit-exactly like a run
 * that was never interrupted (that run, and the refusals, run as threads of the test JVM to save JVM start-ups).
 * With two neighbouring nodes lost, a shard is held by nobody and the restore is refused as unavailable (exit 7);
 * with a flipped byte in the surviving replica, as corrupt (exit 3).
 */
class SnapshotProcessTest {
    private static final int WORLD = 3;
    private static final String[] CONFIG = {"snapshotInterval=4", "maxSteps=6"};

    @BeforeAll
    static void prepareData() {
        TrainerTest.prepareData();
    }

    /** What one rank printed and how it ended. */
    record Ended(int exit, List<TrainerLine> lines, String stderr) {
        List<StepMetrics> steps() {
            return lines.stream().filter(StepMetrics.class::isInstance).map(StepMetrics.class::cast).toList();
        }

        List<CheckpointWritten> snapshots() {
            return lines.stream().filter(CheckpointWritten.class::isInstance).map(CheckpointWritten.class::cast)
                    .filter(CheckpointWritten::inMemory).toList();
        }
    }

    /** A generation's ranks: launched, their stdout collected. */
    private record Generation(List<Process> processes, List<List<TrainerLine>> lines, Path dir, String name) {
        /** Waits for every rank to end. */
        List<Ended> await() throws Exception {
            List<Ended> out = new ArrayList<>();
            for (int r = 0; r < processes.size(); r++) {
                Process p = processes.get(r);
                assertThat(p.waitFor(240, TimeUnit.SECONDS)).as("%s rank %d exited", name, r).isTrue();
                out.add(ended(r));
            }
            return out;
        }

        Ended ended(int r) throws IOException, InterruptedException {
            Process p = processes.get(r);
            p.waitFor();
            return new Ended(p.exitValue(), List.copyOf(lines.get(r)),
                    Files.readString(dir.resolve(name + "-rank" + r + ".err")));
        }

        void kill() {
            processes.forEach(Process::destroyForcibly);
        }
    }

    /**
     * Starts WORLD ranks sharing one checkpoint directory, rank r with the snapshot root {@code roots.get(r)}.
     */
    private static Generation start(Path dir, String name, long generation, List<Path> roots, List<String> restore,
                                    String... sets) throws IOException {
        int port = DataParallelTest.freePort();
        RingSecret secret = RingSecret.random();
        List<Process> processes = new ArrayList<>();
        List<List<TrainerLine>> lines = new ArrayList<>();
        for (int r = 0; r < WORLD; r++) {
            List<String> args = new ArrayList<>(List.of("--checkpoint-dir", dir.resolve(name + "-ck").toString(),
                    "--snapshot-dir", roots.get(r).toString(), "--rank", String.valueOf(r), "--world-size",
                    String.valueOf(WORLD), "--generation", String.valueOf(generation), "--rendezvous",
                    "127.0.0.1:" + port));
            args.addAll(restore);
            Process p = DataParallelProcessTest.trainer(dir, name + "-rank" + r, args, WORLD, secret, sets);
            List<TrainerLine> collected = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null; ) {
                        TrainerLines.parse(line).ifPresent(collected::add);
                    }
                } catch (IOException ended) {
                    // the process ended
                }
            });
            reader.setDaemon(true);
            reader.start();
            processes.add(p);
            lines.add(collected);
        }
        return new Generation(processes, lines, dir, name);
    }

    /** The nodes' snapshot roots on tmpfs, as in production, where there is one (the writes are then quick). */
    private static Path memory(Path dir) throws IOException {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "snapshot-test-")
                : dir.resolve("memory");
    }

    @Test
    void aLostNodesShardComesBackFromItsNeighbourAndTrainingGoesOnBitExactly(@TempDir Path dir) throws Exception {
        Path memory = memory(dir);
        try {
            lostNodeStory(dir, memory);
        } finally {
            if (Files.exists(memory)) {
                deleteTree(memory);
            }
        }
    }

    private void lostNodeStory(Path dir, Path memory) throws Exception {
        List<Path> nodes = new ArrayList<>();
        for (int r = 0; r < WORLD; r++) {
            nodes.add(memory.resolve("node" + r));
        }
        // an uninterrupted run of 6 steps (ranks as threads of this JVM: the same code, the same bits), generation 2
        // as the restored one will be (the state records it)
        List<DataParallelTest.RankRun> straight = inThreads(dir, "straight", List.of(dir.resolve("s0"),
                dir.resolve("s1"), dir.resolve("s2")), null, null, CONFIG);

        // generation 1: a snapshot at step 4, replicated on the replica ring beside steps 5 to 8; the loop hangs
        // before step 9 (test tool), and the processes are killed once every rank reported step 4's (step 8's may be
        // replicated by then too: the restores below name step 4's, which the nodes keep beside it)
        Generation first = start(dir, "first", 1, nodes, List.of(), "snapshotInterval=4", "maxSteps=100000",
                "debugHangAtStep=8");
        String sha;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            while (first.lines().stream().anyMatch(l -> l.stream().noneMatch(SnapshotProcessTest::isStep4Snapshot))) {
                assertThat(System.nanoTime()).as("every rank reported snapshot step 4").isLessThan(deadline);
                assertThat(first.processes()).as("no rank ended early").allMatch(Process::isAlive);
                Thread.sleep(200);
            }
            List<CheckpointWritten> step4 = new ArrayList<>();
            for (int r = 0; r < WORLD; r++) {
                step4.add(first.lines().get(r).stream().filter(SnapshotProcessTest::isStep4Snapshot)
                        .map(CheckpointWritten.class::cast).findFirst().orElseThrow());
            }
            sha = step4.get(0).manifestSha256();
            for (int r = 0; r < WORLD; r++) {
                CheckpointWritten s = step4.get(r);
                assertThat(s.manifestSha256()).as("the same snapshot on every node").isEqualTo(sha);
                assertThat(s.rank()).isEqualTo(r);
                assertThat(s.heldRanks()).as("rank %d's node holds its shard and its predecessor's", r)
                        .containsExactly(Math.min(r, (r + 2) % 3), Math.max(r, (r + 2) % 3));
                assertThat(s.replicaSha256()).as("rank %d holds a replica of its predecessor's shard", r)
                        .isEqualTo(step4.get((r + 2) % 3).shardSha256());
            }
        } finally {
            first.kill();
        }
        for (int r = 0; r < WORLD; r++) {
            first.processes().get(r).waitFor();
        }

        // two neighbouring nodes lost (1 and 2): rank 1's shard and its only replica are gone
        List<Path> twoLost = List.of(copy(nodes.get(0), dir.resolve("two-lost-0")), dir.resolve("two-lost-1"),
                dir.resolve("two-lost-2"));
        // node 1 lost, and a byte of rank 1's parameters flipped in node 2's replica
        List<Path> corrupt = List.of(copy(nodes.get(0), dir.resolve("corrupt-0")), dir.resolve("corrupt-1"),
                copy(nodes.get(2), dir.resolve("corrupt-2")));
        flipAByte(corrupt.get(2).resolve("rank-2").resolve(CheckpointPaths.dirName(4))
                .resolve(CheckpointPaths.shardFile("param", 1, 0)));
        // node 1 lost: its memory is gone, a fresh rank 1 starts on an empty node
        deleteTree(nodes.get(1));

        List<String> restore = List.of("--restore", "memory:4", "--restore-sha256", sha);
        String[] resumeConfig = {"maxSteps=6", "debugHangAtStep=-1"};
        List<Ended> resumed = start(dir, "resumed", 2, nodes, restore, resumeConfig).await();
        for (Ended e : resumed) {
            assertThat(e.exit()).as("resumed; stderr %s", e.stderr()).isZero();
            assertThat(e.stderr()).contains("memory snapshot step 4: gathered");
        }
        assertThat(resumed.get(0).steps()).extracting(StepMetrics::step).containsExactly(5L, 6L);
        for (int i = 0; i < 2; i++) {
            StepMetrics a = straight.get(0).steps().get(4 + i);
            StepMetrics b = resumed.get(0).steps().get(i);
            assertThat(Double.doubleToRawLongBits(b.loss())).as("loss bits at step %d", a.step())
                    .isEqualTo(Double.doubleToRawLongBits(a.loss()));
            assertThat(b.gradNorm()).isEqualTo(a.gradNorm());
        }
        // the final checkpoints hold the same bits: parameters and both Adam moments of every rank, and the state
        assertThat(fileSums(dir.resolve("resumed-ck").resolve(CheckpointPaths.dirName(6))))
                .isEqualTo(fileSums(dir.resolve("straight-ck").resolve(CheckpointPaths.dirName(6))));

        // the refusals, as threads of this JVM: Main maps these exceptions to exits 7 and 3 (MainProcessTest)
        assertThatThrownBy(() -> inThreads(dir, "two-lost", twoLost, "memory:4", sha, resumeConfig))
                .hasCauseInstanceOf(CheckpointUnavailableException.class)
                .hasMessageContaining("no rank of this generation holds this file");
        assertThatThrownBy(() -> inThreads(dir, "corrupt", corrupt, "memory:4", sha, resumeConfig))
                .hasCauseInstanceOf(CorruptCheckpointException.class);
    }

    /** WORLD ranks as threads of this JVM, generation 2, rank r with the snapshot root {@code roots.get(r)}. */
    private static List<DataParallelTest.RankRun> inThreads(Path dir, String name, List<Path> roots, String restore,
                                                            String sha, String... sets) throws Exception {
        String rendezvous = "127.0.0.1:" + DataParallelTest.freePort();
        RingSecret secret = RingSecret.random();
        Map<String, String> config = DataParallelProcessTest.config(WORLD, sets);
        return DataParallelTest.trainRanks(DataParallelTest.same(WORLD, config), rank -> new Trainer.Launch(
                dir.resolve(name + "-ck"), restore, sha, null, rank, WORLD, 2, rendezvous, null, secret,
                roots.get(rank)));
    }

    private static boolean isStep4Snapshot(TrainerLine l) {
        return l instanceof CheckpointWritten c && c.inMemory() && c.step() == 4;
    }

    /** Every file's SHA-256 as the checkpoint's manifest names them. */
    private static Map<String, String> fileSums(Path checkpoint) throws IOException {
        JsonNode manifest = JsonMapper.builder().build().readTree(checkpoint.resolve(CheckpointPaths.MANIFEST)
                .toFile());
        Map<String, String> sums = new LinkedHashMap<>();
        for (JsonNode f : manifest.path("files")) {
            sums.put(f.path("name").asString(), f.path("sha256").asString());
        }
        assertThat(sums).hasSizeGreaterThan(WORLD * 3);
        return sums;
    }

    private static void flipAByte(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 1] ^= 0x40;
        Files.write(file, bytes);
    }

    private static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.sorted().toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals(".lock")) {
                    Files.copy(p, target);
                }
            }
        }
        return to;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
