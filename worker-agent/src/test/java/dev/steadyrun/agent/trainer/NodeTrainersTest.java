package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.Reports;
import dev.steadyrun.agent.testing.ScriptedTrainer;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/** A node running two trainers for its two local ranks, as real child JVMs ({@link ScriptedTrainer}). */
class NodeTrainersTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path checkpoints;
    @TempDir
    Path logs;
    private final ReportBuffer reports = new ReportBuffer(10_000, 10_000);
    private final UUID run = UUID.randomUUID();
    private NodeTrainers node;

    /** A node of 8 cores. */
    private NodeTrainers node() {
        node = new NodeTrainers(local -> new TrainerSupervisor(ScriptedTrainer.command(), checkpoints,
                Duration.ofSeconds(2), 50, Clock.systemUTC(), reports, new LogBuffer(10_000),
                ThreadDumper.forThisJvm(Duration.ofSeconds(10)), Duration.ofMillis(100), logs), 8);
        return node;
    }

    @AfterEach
    void tearDown() {
        if (node != null) {
            node.shutdown();
        }
    }

    private Assignment ranks2and3(long generation, List<Integer> gpus) {
        return new Assignment(run, 2, 4, generation, Map.of("stepMillis", "50"), null, null, "ckpt",
                RestartKnobs.NONE, null, 0, null, null, LocalRank.of(2, 2, gpus));
    }

    private List<Long> runningPids() {
        return Await.until("both trainers running", WAIT, () -> node.trainerPids(),
                p -> p.size() == 2 && p.stream().allMatch(Objects::nonNull));
    }

    private static Map<String, String> environment(long pid) throws IOException {
        String raw = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/environ")), StandardCharsets.UTF_8);
        Map<String, String> env = new java.util.HashMap<>();
        Arrays.stream(raw.split("\0")).filter(kv -> kv.contains("="))
                .forEach(kv -> env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1)));
        return env;
    }

    /** The trainer's command line: the pid is known from the fork on, its command line once the wrapper exec'd it. */
    private static String trainerCommandLine(long pid) {
        return Await.until("the command line of " + pid, WAIT, () -> commandLine(pid), c -> c.contains("--world-size"));
    }

    /** The process's command line; empty while it has none to read (being exec'd, or gone). */
    private static String commandLine(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void twoCpuRanksRunAsTwoTrainersSplittingTheCoresAndReportTheirOwnRanks() throws Exception {
        node().apply(DesiredState.RUN, ranks2and3(1, null));
        List<Long> pids = runningPids();
        assertThat(pids.get(0)).isNotEqualTo(pids.get(1));
        for (int l = 0; l < 2; l++) {
            String argv = trainerCommandLine(pids.get(l));
            assertThat(argv).contains("--rank " + (2 + l) + " ", "--world-size 4", "--set threads=4");
            assertThat(environment(pids.get(l))).containsEntry("OMP_NUM_THREADS", "4")
                    .doesNotContainKey("CUDA_VISIBLE_DEVICES");
        }
        Await.until("steps of both ranks", WAIT, () -> node.status().lastStep() >= 2);
        TrainerStatus status = node.status();
        assertThat(status.state()).isEqualTo(TrainerState.RUNNING);
        assertThat(status.rank()).as("the node's first rank").isEqualTo(2);
        List<Integer> reported = Reports.drain(reports).stream().map(TrainerReport::rank).toList();
        assertThat(reported).contains(2, 3).doesNotContain(0, 1);

        // one rank dies (as a GPU fault would take it): the node reports that rank's exit, then stops the other
        ProcessHandle.of(pids.get(1)).orElseThrow().destroyForcibly();
        TrainerStatus failed = Await.until("rank 3's exit", WAIT, node::status,
                s -> s.state() == TrainerState.EXITED);
        assertThat(failed.rank()).isEqualTo(3);
        assertThat(failed.exitCode()).isNotZero();
        node.apply(DesiredState.IDLE, null); // what the orchestrator answers to a crash
        Await.until("rank 2 stopped", WAIT, () -> node.rankStatuses().stream()
                .allMatch(s -> s.state() == TrainerState.EXITED));
        assertThat(ProcessHandle.of(pids.get(0)).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
    }

    /** No process: how a CPU rank's thread count comes out of the run's configuration. */
    @Test
    void cpuRanksSplitTheCoresUnlessTheRunSetsItsOwnThreads() {
        NodeTrainers eightCores = new NodeTrainers(local -> null, 8);
        Assignment node = ranks2and3(1, null);
        LocalRank second = node.ranksHere().get(1);
        Assignment split = eightCores.forRank(node, second, 2);
        assertThat(split.trainerConfig()).containsEntry(NodeTrainers.THREADS, "4").containsEntry("stepMillis", "50");
        assertThat(split.rank()).isEqualTo(3);
        assertThat(split.localRanks()).containsExactly(second);
        for (String own : List.of("3", "auto")) { // a number the run chose, or a program's own meaning of the key
            Assignment set = node.withTrainerConfig(Map.of(NodeTrainers.THREADS, own));
            assertThat(eightCores.forRank(set, second, 2).trainerConfig()).containsEntry(NodeTrainers.THREADS, own);
        }
    }

    @Test
    void twoGpuRanksSeeOneGpuEachAndAllTheCoresTheRunGives() throws Exception {
        node().apply(DesiredState.RUN, ranks2and3(1, List.of(0, 1)));
        List<Long> pids = runningPids();
        assertThat(environment(pids.get(0))).containsEntry("CUDA_VISIBLE_DEVICES", "0");
        assertThat(environment(pids.get(1))).containsEntry("CUDA_VISIBLE_DEVICES", "1");
        assertThat(trainerCommandLine(pids.get(0))).doesNotContain("threads=");
        assertThat(node.gpuOf(3)).as("chaos faults the GPU of the rank it names").contains(1);
        assertThat(node.gpuOf(1)).as("rank 1 runs elsewhere").isEmpty();

        // a new generation replaces both trainers
        node.apply(DesiredState.RUN, ranks2and3(2, List.of(0, 1)));
        Await.until("generation 2 on both ranks", WAIT, () -> node.rankStatuses().stream()
                .allMatch(s -> s.generation() == 2 && s.state() != TrainerState.EXITED));
        assertThat(node.status().generation()).isEqualTo(2);
    }
}
