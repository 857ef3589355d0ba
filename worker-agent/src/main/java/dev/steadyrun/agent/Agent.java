package dev.steadyrun.agent;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

import dev.steadyrun.agent.chaos.Chaos;
import dev.steadyrun.agent.gpu.FakeGpus;
import dev.steadyrun.agent.gpu.FaultInjector;
import dev.steadyrun.agent.gpu.GpuHealthWatch;
import dev.steadyrun.agent.gpu.GpuProbe;
import dev.steadyrun.agent.gpu.GpuReport;
import dev.steadyrun.agent.gpu.NvidiaSmiProbe;
import dev.steadyrun.agent.lease.Backoff;
import dev.steadyrun.agent.lease.CredentialFile;
import dev.steadyrun.agent.lease.LeaseLoop;
import dev.steadyrun.agent.lease.OrchestratorClient;
import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.trainer.NodeTrainers;
import dev.steadyrun.agent.trainer.ThreadDumper;
import dev.steadyrun.agent.trainer.TrainerSupervisor;
import dev.steadyrun.agent.trainer.WarmSettings;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.RegisterRequest;

/** The real agent of one GPU node: GPU probe, trainer supervisor and lease loop, wired from the configuration. */
public final class Agent {

    public static final String VERSION = "0.1.0";
    /**
     * Unsent live-log lines kept at most (each at most {@code TrainerLogBatch.MAX_LINE_CHARS}, so a few MB): a
     * trainer that prints faster than the orchestrator takes them loses its oldest unsent lines, counted.
     */
    static final int LOG_BUFFER_LINES = 5000;

    private final LeaseLoop lease;
    private final NodeTrainers trainer;
    private final ScheduledExecutorService scheduler;
    /** Null on a node without GPUs. */
    private final GpuHealthWatch gpuWatch;

    public Agent(AgentConfig config, Clock clock) {
        GpuProbe probe = config.fakeGpus() > 0
                ? new FakeGpus(config.nodeName(), config.fakeGpus(), RandomGenerator.getDefault())
                : NvidiaSmiProbe.detect(config.nvidiaSmi(), Path.of("/dev/kmsg"), config.gpuProbeTimeout());
        var gpus = probe.inventory();
        Supplier<GpuReport> health = () -> GpuReport.of(List.of());
        gpuWatch = gpus.isEmpty() ? null
                : new GpuHealthWatch(probe, clock, config.gpuProbeDegradedAfter(), config.gpuProbeFatalAfter());
        if (gpuWatch != null) {
            gpuWatch.start(config.gpuProbeInterval());
            health = gpuWatch::report;
        }
        // the chaos API's GPU faults come through it too, so every node with GPUs has one
        FaultInjector faults = gpus.isEmpty() && config.faultFile() == null ? null
                : new FaultInjector(config.faultFile());
        if (faults != null) {
            Supplier<GpuReport> probed = health;
            health = () -> {
                GpuReport r = probed.get();
                return new GpuReport(faults.apply(r.gpus()), r.probeFault());
            };
        }
        Map<String, String> labels = new LinkedHashMap<>(config.labels());
        if (gpus.isEmpty()) {
            labels.putIfAbsent("gpu", "none");
        }
        RegisterRequest registration = new RegisterRequest(config.nodeName(), config.advertiseHost(), gpus, labels,
                VERSION).withPrograms(List.copyOf(config.programs().keySet()));
        ReportBuffer reports = new ReportBuffer(config.reportBuffer(), config.reportBatch());
        LogBuffer logs = new LogBuffer(LOG_BUFFER_LINES);
        // one supervisor per local rank: a node runs one trainer per GPU (or ranksPerNode CPU ranks); an idle node
        // keeps one hot spare, local rank 0's (docs/agent.md): the other ranks' trainers that left stay warm-keep.
        // On real GPUs the spare sees the first GPU alone, as local rank 0 of a GPU run does (simulated GPUs are
        // no device a trainer could see: there it keeps the agent's environment, as a CPU run's rank does)
        WarmSettings spare = config.fakeGpus() > 0 ? config.warm()
                : config.warm().forGpus(gpus.stream().map(GpuInfo::index).toList());
        this.trainer = new NodeTrainers(local -> new TrainerSupervisor(config.trainerCommand(), config.programs(),
                config.checkpointRoot(), config.stopGrace(), config.logTailLines(), clock, reports, logs,
                ThreadDumper.forThisJvm(Duration.ofSeconds(10)),
                Duration.ofMillis(250), config.trainerLogDir(),
                local == 0 ? spare : config.warm().withoutHotSpare()),
                Runtime.getRuntime().availableProcessors());
        this.scheduler = Executors.newScheduledThreadPool(2, r -> {
            Thread t = new Thread(r, "agent-lease");
            t.setDaemon(true);
            return t;
        });
        OrchestratorClient client = new OrchestratorClient(config.orchestratorUrls(),
                OrchestratorClient.newHttpClient(config.requestTimeout(), config.caFile()), config.requestTimeout());
        this.lease = new LeaseLoop(client, config.joinToken(), new CredentialFile(config.credentialFile()),
                () -> registration, health, trainer, new Chaos(trainer, faults, () -> Runtime.getRuntime().halt(137)),
                reports, logs,
                scheduler, new Backoff(RandomGenerator.getDefault()), config.reportFlush(), LeaseTimings.DEFAULT);
    }

    public void start() {
        lease.start();
    }

    /** Stops the trainer (SIGTERM, grace, SIGKILL), sends what it reported last, and stops heartbeating. */
    public void stop() {
        trainer.shutdown();
        lease.flushReports();
        lease.stop();
        scheduler.shutdownNow();
        if (gpuWatch != null) {
            gpuWatch.stop();
        }
    }
}
