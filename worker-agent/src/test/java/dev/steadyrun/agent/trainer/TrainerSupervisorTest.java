package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
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
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/** The supervisor against real child JVMs ({@link ScriptedTrainer}), real signals and a real {@code jcmd}. */
class TrainerSupervisorTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Duration GRACE = Duration.ofSeconds(2);

    @TempDir
    Path checkpoints;
    @TempDir
    Path logs;
    private final ReportBuffer reports = new ReportBuffer(10_000, 10_000);
    private final LogBuffer liveLogs = new LogBuffer(10_000);
    private final UUID run = UUID.randomUUID();
    private TrainerSupervisor supervisor;

    private TrainerSupervisor supervisor(Duration dumpTimeout) {
        supervisor = new TrainerSupervisor(ScriptedTrainer.command(), checkpoints, GRACE, 50, Clock.systemUTC(),
                reports, liveLogs, ThreadDumper.forThisJvm(dumpTimeout), Duration.ofMillis(100), logs);
        return supervisor;
    }

    @AfterEach
    void tearDown() {
        if (supervisor != null) {
            supervisor.shutdown();
        }
    }

    private Assignment assignment(long generation, long hangTimeout, Map<String, String> config) {
        return new Assignment(run, 0, 1, generation, config, null, null, "ckpt", RestartKnobs.NONE, null, hangTimeout,
                null);
    }

    private List<TrainerReport> drain() {
        return Reports.drain(reports);
    }

    private static List<String> lines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file) : List.of();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    private TrainerStatus awaitExit(long generation) {
        return Await.until("generation " + generation + " to exit", WAIT, supervisor::status,
                s -> s.state() == TrainerState.EXITED && s.generation() == generation);
    }

    @Test
    void runsTheAssignmentForwardsItsLinesAndStopsItWithSigterm() {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of("checkpointInterval", "2")));
        Await.until("three steps", WAIT, () -> supervisor.status().lastStep() >= 3);
        assertThat(supervisor.status().state()).isEqualTo(TrainerState.RUNNING);
        long pid = supervisor.trainerPid();
        assertThat(ProcessHandle.of(pid)).isPresent();

        supervisor.apply(DesiredState.STOP, null);
        TrainerStatus exited = awaitExit(1);

        assertThat(exited.exitCode()).isEqualTo(143);
        assertThat(exited.logTail()).anyMatch(l -> l.startsWith("scripted trainer step"));
        assertThat(exited.logTail()).anyMatch(l -> l.contains("--checkpoint-dir " + checkpoints.resolve("ckpt")));
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        List<TrainerReport> sent = drain();
        assertThat(sent).allMatch(r -> r.generation() == 1 && r.runId().equals(run));
        assertThat(sent.stream().flatMap(r -> r.steps().stream()).map(StepMetrics::step))
                .startsWith(1L, 2L, 3L).isSorted();
        assertThat(sent.stream().flatMap(r -> r.checkpoints().stream())).isNotEmpty();

        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of()));
        assertThat(supervisor.status().state()).as("the same generation never runs twice").isEqualTo(TrainerState.EXITED);
    }

    /** The live log gets the stderr lines, numbered in order, without the metric lines or the wrapper's own line. */
    @Test
    void shipsTheTrainersLogLinesNumberedInOrderToTheLiveLog() {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of("maxSteps", "5", "stepMillis", "10")));
        awaitExit(1);
        List<TrainerLogBatch.Line> lines = new ArrayList<>();
        for (var b = liveLogs.next(); b.isPresent(); b = liveLogs.next()) {
            assertThat(b.get().batch().runId()).isEqualTo(run);
            assertThat(b.get().batch().generation()).isEqualTo(1);
            lines.addAll(b.get().batch().lines());
            liveLogs.sent(b.get());
        }
        assertThat(lines).extracting(TrainerLogBatch.Line::seq)
                .containsExactlyElementsOf(java.util.stream.LongStream.range(0, lines.size()).boxed().toList());
        assertThat(lines).extracting(TrainerLogBatch.Line::text)
                .contains("scripted trainer step 1", "scripted trainer step 5")
                .noneMatch(t -> t.startsWith("{") || t.startsWith("steadyrun-wrapper:"));
        assertThat(lines.get(0).text()).startsWith("scripted trainer args:");
        assertThat(lines).allMatch(l -> l.stream() == TrainerLogBatch.Stream.STDERR);
    }

    /** The restore point a restart chose is pinned in the directory of rank 0's trainer before it is stopped. */
    @Test
    void aPinOfTheRunningRankZerosRunIsRecordedInItsCheckpointDirectory() throws Exception {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of()));
        Await.until("a step", WAIT, () -> supervisor.status().lastStep() >= 1);
        Path dir = checkpoints.resolve("ckpt");
        java.nio.file.Files.createDirectories(dir);
        supervisor.keep(new CheckpointPin(UUID.randomUUID(), 7)); // another run's
        supervisor.keep(new CheckpointPin(run, 20));
        supervisor.apply(DesiredState.STOP, null);
        assertThat(CheckpointPin.read(dir)).containsExactly(20L);
        awaitExit(1);
    }

    @Test
    void aNewerGenerationStopsTheOldTrainerBeforeStarting() {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of()));
        Await.until("generation 1 steps", WAIT, () -> supervisor.status().lastStep() >= 1);
        long oldPid = supervisor.trainerPid();

        supervisor.apply(DesiredState.RUN, assignment(2, 0, Map.of()));
        Await.until("generation 2 steps", WAIT, supervisor::status,
                s -> s.generation() == 2 && s.state() == TrainerState.RUNNING);

        assertThat(ProcessHandle.of(oldPid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThat(supervisor.trainerPid()).isNotEqualTo(oldPid);
        assertThat(drain()).extracting(TrainerReport::generation).contains(1L, 2L);
    }

    @Test
    void aTrainerThatIgnoresSigtermIsKilledAfterTheGracePeriod() {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of("ignoreTerm", "true")));
        Await.until("a step", WAIT, () -> supervisor.status().lastStep() >= 1);

        long start = System.nanoTime();
        supervisor.apply(DesiredState.IDLE, null);
        TrainerStatus exited = awaitExit(1);

        assertThat(exited.exitCode()).isEqualTo(137);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(GRACE);
        assertThat(exited.logTail()).contains("ignoring SIGTERM");
    }

    @Test
    void reportsTheExitCodeAndLastStepOfATrainerThatEndsAndKeepsItsWholeLog() throws Exception {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(3, 0, Map.of("maxSteps", "60", "exitCode", "4")));
        TrainerStatus exited = awaitExit(3);
        assertThat(exited.exitCode()).isEqualTo(4);
        assertThat(exited.lastStep()).isEqualTo(60);
        assertThat(exited.logTail()).hasSize(50).endsWith("scripted trainer step 60");
        assertThat(exited.threadDump()).isNull();

        List<String> log = Files.readAllLines(logs.resolve("trainer-" + run + "-rank0-gen3.log"));
        assertThat(log).as("every line, not only the tail").endsWith("scripted trainer step 60").hasSize(61);
        assertThat(log.get(0)).startsWith("scripted trainer args: train --set exitCode=4 --set maxSteps=60 "
                + "--checkpoint-dir " + checkpoints.resolve("ckpt") + " --rank 0 --world-size 1 --generation 3 "
                + "--run-id " + run + " (fault file ");
    }

    @Test
    void chaosReachesTheRunningTrainersFaultFileAndCorruptsOnlyItsRunsCheckpoints() throws Exception {
        supervisor(Duration.ofSeconds(10));
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of()));
        Path log = logs.resolve("trainer-" + run + "-rank0-gen1.log");
        String args = Await.until("the trainer's arguments in its log", WAIT,
                () -> lines(log), l -> !l.isEmpty()).get(0);
        Path faultFile = Path.of(args.substring(args.indexOf("(fault file ") + "(fault file ".length(),
                args.length() - 1));

        supervisor.injectIntoTrainer(new ChaosFault(1, ChaosFault.Kind.DIVERGE, run, 1, 0, null));
        assertThat(faultFile).hasContent("diverge");
        supervisor.injectIntoTrainer(new ChaosFault(2, ChaosFault.Kind.HANG, run, 2, 0, null));
        supervisor.injectIntoTrainer(new ChaosFault(3, ChaosFault.Kind.HANG, UUID.randomUUID(), 1, 0, null));
        assertThat(faultFile).as("faults for another generation or run are ignored").hasContent("diverge");

        Path step = Files.createDirectories(checkpoints.resolve("ckpt").resolve("step-00000004"));
        byte[] data = new byte[4096];
        Files.write(step.resolve("param_wte.arr"), data);
        Files.writeString(step.resolve("manifest.json"), "{}");
        Path outside = checkpoints.resolve("victim.arr");
        Files.write(outside, data);
        supervisor.corruptCheckpoint(new ChaosFault(4, ChaosFault.Kind.CORRUPT_CHECKPOINT, run, 1, 0, ".."));
        supervisor.corruptCheckpoint(new ChaosFault(5, ChaosFault.Kind.CORRUPT_CHECKPOINT, run, 1, 0, "../victim.arr"));
        assertThat(Files.readAllBytes(outside)).as("nothing outside the run's checkpoints").isEqualTo(data);
        supervisor.corruptCheckpoint(new ChaosFault(6, ChaosFault.Kind.CORRUPT_CHECKPOINT, run, 1, 0,
                "step-00000004"));
        assertThat(Files.readAllBytes(step.resolve("param_wte.arr"))).isNotEqualTo(data);
        assertThat(step.resolve("manifest.json")).as("the manifest, with the sums, stays").hasContent("{}");

        supervisor.killNow();
        assertThat(awaitExit(1).exitCode()).as("killed outright, not stopped").isEqualTo(137);
    }

    @Test
    void theHangWatchdogTakesAThreadDumpBeforeKilling() {
        supervisor(Duration.ofSeconds(20));
        supervisor.apply(DesiredState.RUN, assignment(1, 2, Map.of("hangAtStep", "3")));
        TrainerStatus exited = awaitExit(1);

        assertThat(exited.lastStep()).isEqualTo(2);
        assertThat(exited.exitCode()).isIn(143, 137);
        assertThat(exited.threadDump())
                .startsWith("hang watchdog: no step for")
                .contains("\"main\"")
                .contains("ScriptedTrainer.hangHere");
    }

    @Test
    void aFrozenTrainerGetsAReasonInsteadOfADump() throws Exception {
        supervisor(Duration.ofSeconds(2));
        supervisor.apply(DesiredState.RUN, assignment(1, 2, Map.of()));
        Await.until("a step", WAIT, () -> supervisor.status().lastStep() >= 1);
        long pid = supervisor.trainerPid();
        Processes.kill("STOP", pid);

        TrainerStatus exited = awaitExit(1);

        assertThat(exited.exitCode()).isEqualTo(137);
        assertThat(exited.threadDump()).startsWith("no thread dump: ").contains("did not answer within 2 s")
                .contains("T (stopped").contains("hang watchdog: no step for");
    }

    @Test
    void aCommandThatCannotStartIsReportedAsAnExit(@TempDir Path dir) {
        supervisor = new TrainerSupervisor(List.of(dir.resolve("no-such-trainer").toString()), checkpoints, GRACE,
                50, Clock.systemUTC(), reports, liveLogs, ThreadDumper.forThisJvm(Duration.ofSeconds(1)),
                Duration.ofMillis(100), null);
        supervisor.apply(DesiredState.RUN, assignment(1, 0, Map.of()));
        TrainerStatus exited = awaitExit(1);
        assertThat(exited.exitCode()).isEqualTo(127);
        assertThat(String.join("\n", exited.logTail())).contains("no-such-trainer");
    }
}
