package dev.steadyrun.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGeneratorFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.gpu.GpuReport;
import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.StubOrchestrator;
import dev.steadyrun.agent.trainer.TrainerDriver;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/** The lease loop over real HTTP against {@link StubOrchestrator}, with 100 ms heartbeats. */
class LeaseLoopTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    /** Records what the loop asked of the trainer; reports a fixed running status. */
    private static final class RecordingTrainer implements TrainerDriver {
        final List<DesiredState> applied = new CopyOnWriteArrayList<>();
        final List<Long> fenced = new CopyOnWriteArrayList<>();
        volatile TrainerStatus status = TrainerStatus.idle();

        @Override
        public void apply(DesiredState desired, Assignment assignment) {
            applied.add(desired);
        }

        @Override
        public void keep(dev.steadyrun.protocol.CheckpointPin pin) {
        }

        @Override
        public void fence(UUID runId, long generation) {
            fenced.add(generation);
        }

        @Override
        public TrainerStatus status() {
            return status;
        }

        @Override
        public void shutdown() {
        }
    }

    private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
    private final RecordingTrainer trainer = new RecordingTrainer();
    private final ReportBuffer reports = new ReportBuffer(1000, 50);
    private LogBuffer logsUnderTest = new LogBuffer(1000);
    private final List<ChaosFault> chaos = new CopyOnWriteArrayList<>();
    private StubOrchestrator orchestrator;
    private LeaseLoop loop;

    private LeaseLoop start(String token) throws Exception {
        orchestrator = new StubOrchestrator();
        return start(token, CredentialStore.inMemory());
    }

    /** A loop (an agent's) against the current stub, keeping its credential in {@code credentials}. */
    private LeaseLoop start(String token, CredentialStore credentials) {
        OrchestratorClient client = new OrchestratorClient(orchestrator.url(),
                OrchestratorClient.newHttpClient(Duration.ofSeconds(1), null), Duration.ofSeconds(1));
        RegisterRequest registration = new RegisterRequest("node-a", "host-a", List.of(), Map.of("gpu", "none"), "t");
        List<GpuHealth> gpus = List.of(new GpuHealth(0, 40, 1, 2, 3, 0, 0, 0, List.of(), 0));
        loop = new LeaseLoop(client, token, credentials, () -> registration, () -> GpuReport.of(gpus), trainer, chaos::add,
                reports, logsUnderTest, scheduler,
                new Backoff(RandomGeneratorFactory.of("L64X128MixRandom").create(1)), Duration.ofMillis(100),
                LeaseTimings.forHeartbeat(Duration.ofMillis(100)));
        loop.start();
        return loop;
    }

    @AfterEach
    void tearDown() {
        if (loop != null) {
            loop.stop();
        }
        scheduler.shutdownNow();
        if (orchestrator != null) {
            orchestrator.close();
        }
    }

    @Test
    void registersThenRenewsTheLeaseEveryIntervalWithJitterAndActsOnTheAnswer() throws Exception {
        UUID run = UUID.randomUUID();
        trainer.status = new TrainerStatus(TrainerState.RUNNING, run, 0, 3, null, 41, List.of(), null);
        start(StubOrchestrator.JOIN_TOKEN);
        Await.until("20 heartbeats", WAIT, () -> orchestrator.beats.size() >= 20);

        assertThat(orchestrator.registrations).hasSize(1);
        assertThat(orchestrator.registrations.get(0).labels()).containsEntry("gpu", "none");
        List<Long> sequences = orchestrator.beats.stream().map(b -> b.request().sequence()).toList();
        assertThat(sequences.subList(0, 20)).isEqualTo(java.util.stream.LongStream.rangeClosed(1, 20).boxed().toList());
        assertThat(orchestrator.beats.get(0).request().trainer().lastStep()).isEqualTo(41);
        assertThat(orchestrator.beats.get(0).request().gpus()).hasSize(1);
        List<Long> gapsMs = gaps();
        // 100 ms ± 20 % jitter, plus scheduling noise on a busy machine
        assertThat(gapsMs.stream().mapToLong(Long::longValue).average().orElseThrow()).isBetween(80.0, 160.0);
        assertThat(gapsMs).allMatch(g -> g >= 75);
        assertThat(trainer.applied).contains(DesiredState.IDLE);
    }

    @Test
    void aChaosFaultInAnAnswerIsHandedOnOnceAfterTheAssignment() throws Exception {
        start(StubOrchestrator.JOIN_TOKEN);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 2);
        assertThat(chaos).isEmpty();
        ChaosFault fault = new ChaosFault(7, ChaosFault.Kind.HANG, UUID.randomUUID(), 2, 1, null);
        orchestrator.chaos.add(fault);
        int beats = orchestrator.beats.size();
        Await.until("three more beats", WAIT, () -> orchestrator.beats.size() >= beats + 3);
        assertThat(chaos).containsExactly(fault);
        assertThat(trainer.applied).as("the answer's desired state was applied as well").isNotEmpty();
    }

    @Test
    void aRefusedCredentialMeansRegisteringAgain() throws Exception {
        start(StubOrchestrator.JOIN_TOKEN);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 3);
        orchestrator.forgetCredentials();
        Await.until("a second registration", WAIT, () -> orchestrator.registrations.size() >= 2);
        int beats = orchestrator.beats.size();
        Await.until("beats after re-registering", WAIT, () -> orchestrator.beats.size() >= beats + 3);
        assertThat(loop.registrations()).isEqualTo(2);
    }

    @Test
    void aRestartedAgentRejoinsWithTheCredentialItKeptOnDisk(@TempDir Path dir) throws Exception {
        orchestrator = new StubOrchestrator();
        CredentialFile file = new CredentialFile(dir.resolve("state").resolve("node-a.credential"));
        start(StubOrchestrator.JOIN_TOKEN, file);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 3);
        String kept = file.load().orElseThrow();
        assertThat(orchestrator.registrations.get(0).nodeCredential()).as("proposed, stored before asking")
                .isEqualTo(kept).matches(RegisterRequest.CREDENTIAL);
        assertThat(Files.getPosixFilePermissions(file.path())).containsExactlyInAnyOrder(
                PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThat(Files.getPosixFilePermissions(file.path().getParent())).containsExactlyInAnyOrder(
                PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

        loop.stop(); // the agent restarts: a new loop, the same file
        start(StubOrchestrator.JOIN_TOKEN, new CredentialFile(file.path()));
        Await.until("the restarted agent's registration", WAIT, () -> orchestrator.registrations.size() >= 2);
        int beats = orchestrator.beats.size();
        Await.until("beats after re-joining", WAIT, () -> orchestrator.beats.size() >= beats + 3);
        assertThat(orchestrator.registrations.get(1).nodeCredential()).isEqualTo(kept);
        assertThat(orchestrator.refusedTakeovers.get()).isZero();
        assertThat(file.load()).hasValue(kept);
    }

    @Test
    void aRegistrationWhoseAnswerIsLostIsRetriedWithTheSameCredential(@TempDir Path dir) throws Exception {
        orchestrator = new StubOrchestrator();
        orchestrator.registerDelay = Duration.ofMillis(1500); // answers after the agent's 1 s timeout, once
        CredentialFile file = new CredentialFile(dir.resolve("node-a.credential"));
        start(StubOrchestrator.JOIN_TOKEN, file);
        Await.until("beats after the retried registration", WAIT, () -> orchestrator.beats.size() >= 3);
        assertThat(orchestrator.registrations).hasSizeGreaterThanOrEqualTo(2);
        assertThat(orchestrator.registrations).extracting(RegisterRequest::nodeCredential).containsOnly(
                file.load().orElseThrow());
        assertThat(orchestrator.refusedTakeovers.get()).as("the node was not locked out").isZero();
    }

    @Test
    void afterARekeyTheAgentWaitsForTheNewCredentialInItsFile(@TempDir Path dir) throws Exception {
        orchestrator = new StubOrchestrator();
        CredentialFile file = new CredentialFile(dir.resolve("node-a.credential"));
        start(StubOrchestrator.JOIN_TOKEN, file);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 3);
        String fresh = orchestrator.rekey();
        Await.until("registrations refused: the stored credential is the old one", WAIT,
                () -> orchestrator.refusedTakeovers.get() >= 2);
        int beats = orchestrator.beats.size();
        file.save(fresh); // what the operator does with the re-key's answer
        Await.until("beats with the new credential", WAIT, () -> orchestrator.beats.size() >= beats + 3);
        assertThat(file.load()).hasValue(fresh);
    }

    @Test
    void aWrongJoinTokenBacksOffInsteadOfHammering() throws Exception {
        start("wrong-token");
        Thread.sleep(2000);
        // 100 ms base doubling to the 400 ms cap (one lease), half of it jitter: about 7-10 attempts in 2 s, never 20
        assertThat(orchestrator.refusedJoins.get()).isBetween(3, 12);
        assertThat(orchestrator.beats).isEmpty();
    }

    @Test
    void anOutageBacksOffExponentiallyKeepsReportsAndResumes() throws Exception {
        UUID run = UUID.randomUUID();
        start(StubOrchestrator.JOIN_TOKEN);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 3);
        orchestrator.goDown();
        var source = new ReportBuffer.Source(run, 0, 5);
        for (int i = 1; i <= 120; i++) {
            reports.add(source, new StepMetrics(i, i, 1.0, 1, 1, false, 1, 1, 1, 1, List.of()));
        }
        reports.add(source, new CheckpointWritten(120, 120, "/c/120", 1, 1, "s", 1));
        Thread.sleep(3000);
        int beatsBefore = orchestrator.beats.size();
        orchestrator.comeBack();
        Await.until("beats after the outage", WAIT, () -> orchestrator.beats.size() >= beatsBefore + 3);
        Await.until("the backlog", WAIT, () -> reports.size() == 0);

        assertThat(orchestrator.reports).allMatch(r -> r.steps().size() <= 50);
        assertThat(orchestrator.reports.stream().flatMap(r -> r.steps().stream()).map(StepMetrics::step))
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, 120).boxed().toList());
        assertThat(orchestrator.reports.stream().flatMap(r -> r.checkpoints().stream())).hasSize(1);
        assertThat(loop.registrations()).as("the credential survived the outage").isEqualTo(1);
    }

    @Test
    void aFencedGenerationIsDroppedAndItsTrainerStopped() throws Exception {
        UUID run = UUID.randomUUID();
        start(StubOrchestrator.JOIN_TOKEN);
        orchestrator.fencedBelow = 7;
        reports.add(new ReportBuffer.Source(run, 0, 6), new StepMetrics(1, 1, 1.0, 1, 1, false, 1, 1, 1, 1, List.of()));
        reports.add(new ReportBuffer.Source(run, 0, 7), new StepMetrics(1, 1, 1.0, 1, 1, false, 1, 1, 1, 1, List.of()));
        Await.until("generation 7's report", WAIT, () -> orchestrator.reports.size() == 1);
        assertThat(trainer.fenced).containsExactly(6L);
        assertThat(orchestrator.reports.get(0).generation()).isEqualTo(7);
    }

    /** Log lines wait out an outage in order, keep their drop count, and a fenced generation's lines are dropped. */
    @Test
    void logLinesAreShippedAfterAnOutageWithTheirDropCountAndFencedOnesDiscarded() throws Exception {
        UUID run = UUID.randomUUID();
        LogBuffer small = new LogBuffer(600);
        logsUnderTest = small;
        start(StubOrchestrator.JOIN_TOKEN);
        Await.until("first beats", WAIT, () -> orchestrator.beats.size() >= 2);
        orchestrator.goDown();
        orchestrator.fencedBelow = 3;
        var fenced = new ReportBuffer.Source(run, 1, 2);
        var current = new ReportBuffer.Source(run, 1, 3);
        small.add(fenced, TrainerLogBatch.Stream.STDERR, "old generation", 0, Instant.now());
        for (int i = 0; i < 700; i++) { // 101 more than fit: the oldest go, the fenced line first
            small.add(current, TrainerLogBatch.Stream.STDOUT, "line " + i, i, Instant.now());
        }
        Thread.sleep(1000);
        orchestrator.comeBack();
        Await.until("the backlog", WAIT, () -> small.size() == 0);

        assertThat(orchestrator.logs).allMatch(b -> b.generation() == 3 && b.rank() == 1
                && b.lines().size() <= TrainerLogBatch.MAX_LINES);
        // a batch whose answer came too late is sent again (the orchestrator skips seqs it has): in order, once each
        java.util.Map<Long, String> received = new java.util.LinkedHashMap<>();
        orchestrator.logs.stream().flatMap(b -> b.lines().stream()).forEach(l -> received.putIfAbsent(l.seq(),
                l.text()));
        assertThat(List.copyOf(received.keySet())).isSorted();
        assertThat(received.values()).containsExactlyElementsOf(java.util.stream.IntStream.range(100, 700)
                .mapToObj(i -> "line " + i).toList());
        assertThat(orchestrator.logs).allMatch(b -> b.droppedLines() == 100, "the running total of dropped lines");
        assertThat(small.droppedTotal()).isEqualTo(101);

        small.add(fenced, TrainerLogBatch.Stream.STDERR, "late line of a fenced generation", 1, Instant.now());
        Await.until("the fenced line discarded", WAIT, () -> small.size() == 0);
        assertThat(orchestrator.logs).noneMatch(b -> b.generation() == 2);
    }

    private List<Long> gaps() {
        List<Long> gaps = new ArrayList<>();
        var beats = orchestrator.beats;
        for (int i = 1; i < beats.size(); i++) {
            gaps.add((beats.get(i).atNanos() - beats.get(i - 1).atNanos()) / 1_000_000);
        }
        return gaps;
    }
}
