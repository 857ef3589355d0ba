package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.Reports;
import dev.steadyrun.agent.testing.ScriptedTrainer;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Warm restarts and hot spares with the real built-in trainer as the agent's child process (no orchestrator: the
 * supervisor is driven as the lease loop drives it), and the cold fallback with a {@link ScriptedTrainer} that
 * declares the control channel but never acknowledges.
 */
class WarmRestartTest {

    private static final Duration WAIT = Duration.ofMinutes(3);
    private static final WarmSettings WARM = new WarmSettings(true, false, Duration.ofSeconds(60),
            Duration.ofMinutes(5));

    /** The checkpoint root and, in {@code logs/}, the trainers' log files. */
    @TempDir
    Path dir;
    private final UUID run = UUID.randomUUID();
    private final ReportBuffer reports = new ReportBuffer(100_000, 100_000);
    private TrainerSupervisor supervisor;

    private static List<String> builtIn() {
        return List.of(Processes.java(), "-Xmx768m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), "dev.steadyrun.trainer.Main");
    }

    private TrainerSupervisor supervisor(List<String> command, WarmSettings warm) {
        supervisor = new TrainerSupervisor(command, Map.of(), dir, Duration.ofSeconds(10), 50,
                Clock.systemUTC(), reports, new LogBuffer(10_000), ThreadDumper.forThisJvm(Duration.ofSeconds(10)),
                Duration.ofMillis(100), dir.resolve("logs"), warm);
        return supervisor;
    }

    @AfterEach
    void tearDown() {
        if (supervisor != null) {
            supervisor.shutdown();
        }
    }

    private Assignment assignment(long generation, Map<String, String> config, CheckpointWritten restore) {
        return new Assignment(run, 0, 1, generation, config, restore == null ? null : restore.path(),
                restore == null ? null : restore.manifestSha256(), "ckpt", RestartKnobs.NONE, null, 600, null);
    }

    /** The small OPT of the conformance check, trained for longer than any test waits. */
    private static Map<String, String> small() {
        Map<String, String> c = new HashMap<>(OptTrainerConformanceTest.SMALL);
        c.put("maxSteps", "100000");
        return c;
    }

    private List<TrainerReport> drain() {
        return Reports.drain(reports);
    }

    private static List<StepMetrics> steps(List<TrainerReport> sent, long generation) {
        return sent.stream().filter(r -> r.generation() == generation).flatMap(r -> r.steps().stream()).toList();
    }

    private TrainerStatus await(String what, long generation, TrainerState state, long minStep) {
        return Await.until(what, WAIT, supervisor::status, s -> s.state() == state && s.generation() == generation
                && s.lastStep() >= minStep);
    }

    @Test
    void aSurvivorKeepsItsProcessThroughAGenerationChangeAndRestoresInPlace() {
        supervisor(builtIn(), WARM);
        supervisor.apply(DesiredState.RUN, assignment(1, small(), null));
        await("generation 1 past step 4", 1, TrainerState.RUNNING, 4);
        long pid = supervisor.trainerPid();

        // the orchestrator stops the old generation: the trainer leaves it at a step boundary and stays up
        supervisor.apply(DesiredState.STOP, null);
        TrainerStatus left = Await.until("generation 1 to be left", WAIT, supervisor::status,
                s -> s.state() == TrainerState.EXITED && s.generation() == 1);
        assertThat(left.exitCode()).as("reported as a stop on request").isEqualTo(143);
        assertThat(Processes.running(pid)).as("the trainer process survives leaving its generation").isTrue();
        List<TrainerReport> before = drain(); // every line of generation 1 came before its acknowledgement
        List<StepMetrics> first = steps(before, 1);
        assertThat(first).extracting(StepMetrics::step).startsWith(1L, 2L, 3L, 4L).isSorted();
        CheckpointWritten step2 = before.stream().flatMap(r -> r.checkpoints().stream())
                .filter(c -> c.step() == 2).findFirst().orElseThrow();

        supervisor.apply(DesiredState.IDLE, null);
        assertThat(supervisor.standingBy()).isTrue();
        supervisor.apply(DesiredState.RUN, assignment(2, small(), step2));
        await("generation 2 past step 4", 2, TrainerState.RUNNING, 4);

        assertThat(supervisor.trainerPid()).as("the same process trains generation 2").isEqualTo(pid);
        List<TrainerReport> after = drain();
        assertThat(after).as("no line of generation 1 after it was left").allMatch(r -> r.generation() == 2);
        List<StepMetrics> second = steps(after, 2);
        assertThat(second.get(0).step()).as("restored at the restore point").isEqualTo(3);
        StepMetrics original = first.get(2);
        assertThat(second.get(0).tokensSeen()).isEqualTo(original.tokensSeen());
        assertThat(second.get(0).loss()).as("bit-exact resume in place").isEqualTo(original.loss());
        assertThat(second.get(0).gradNorm()).isEqualTo(original.gradNorm());
        assertThat(second).extracting(StepMetrics::step).startsWith(3L, 4L).isSorted();
        assertThat(log()).contains("restoring into the model already in memory");
    }

    @Test
    void aHotSparesStandbyTrainerTakesItsFirstAssignment() {
        supervisor(builtIn(), new WarmSettings(true, true, Duration.ofSeconds(60), Duration.ofMinutes(5)));
        supervisor.apply(DesiredState.IDLE, null);
        Await.until("the standby trainer to declare itself", WAIT, supervisor::standingBy, b -> b);
        assertThat(supervisor.status().state()).as("a spare runs no generation").isEqualTo(TrainerState.IDLE);
        long pid = supervisor.trainerPid();

        supervisor.apply(DesiredState.RUN, assignment(1, small(), null));
        await("generation 1 past step 2", 1, TrainerState.RUNNING, 2);

        assertThat(supervisor.trainerPid()).as("the spare's process took the rank").isEqualTo(pid);
        List<StepMetrics> steps = steps(drain(), 1);
        assertThat(steps).extracting(StepMetrics::step).startsWith(1L, 2L);
        assertThat(log()).contains("standby: ND4J and the data set");
    }

    @Test
    void aGpuSparesStandbyTakesOnlyTheRankThatSeesItsGpu() throws Exception {
        // a spare on a node with GPUs 0 and 1 sees GPU 0 alone; a rank of GPU 1 cannot be handed to it
        supervisor(builtIn(), new WarmSettings(true, true, Duration.ofSeconds(60), Duration.ofMinutes(5))
                .forGpus(List.of(1, 0)));
        supervisor.apply(DesiredState.IDLE, null);
        Await.until("the standby trainer to declare itself", WAIT, supervisor::standingBy, b -> b);
        long pid = supervisor.trainerPid();
        assertThat(environment(pid)).containsEntry("CUDA_VISIBLE_DEVICES", "0");

        Assignment gpu1 = new Assignment(run, 0, 1, 1, small(), null, null, "ckpt", RestartKnobs.NONE, null, 600,
                null, null, LocalRank.of(0, 1, List.of(1)));
        supervisor.apply(DesiredState.RUN, gpu1);
        await("generation 1 past step 1", 1, TrainerState.RUNNING, 1);

        long launched = supervisor.trainerPid();
        assertThat(launched).as("the standby was stopped and the rank launched cold").isNotEqualTo(pid);
        assertThat(environment(launched)).containsEntry("CUDA_VISIBLE_DEVICES", "1");
    }

    /** A process's environment, from {@code /proc}. */
    private static Map<String, String> environment(long pid) throws IOException {
        Map<String, String> env = new HashMap<>();
        for (String kv : Files.readString(Path.of("/proc/" + pid + "/environ")).split("\0")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                env.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return env;
    }

    @Test
    void aTrainerThatDoesNotAcknowledgeLeavingIsStoppedAndTheNextGenerationLaunchedCold() {
        supervisor(ScriptedTrainer.command(), new WarmSettings(true, false, Duration.ofSeconds(1),
                Duration.ofMinutes(5)));
        Map<String, String> scripted = Map.of("announceControl", "true", "stepMillis", "50");
        supervisor.apply(DesiredState.RUN, assignment(1, scripted, null));
        await("scripted generation 1 past step 3", 1, TrainerState.RUNNING, 3);
        long pid = supervisor.trainerPid();

        supervisor.apply(DesiredState.RUN, assignment(2, scripted, null));
        await("generation 2 launched cold", 2, TrainerState.RUNNING, 1);

        assertThat(supervisor.trainerPid()).as("a new process").isNotEqualTo(pid);
        assertThat(Processes.running(pid)).as("the old one was stopped after the deadline").isFalse();
        // every report of generation 1 comes before the first of generation 2: none of the old process's lines
        // is sent once the new one runs
        assertThat(drain()).extracting(TrainerReport::generation).contains(1L, 2L).containsOnly(1L, 2L).isSorted();
    }

    /** Every trainer log the supervisor wrote, concatenated. */
    private String log() {
        try (var files = Files.list(dir.resolve("logs"))) {
            StringBuilder all = new StringBuilder();
            for (Path f : files.toList()) {
                all.append(Files.readString(f));
            }
            return all.toString();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
