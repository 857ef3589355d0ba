package dev.steadyrun.orchestrator.agent;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.checkpoint.CheckpointPaths;
import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.checkpoint.MemorySnapshots;
import dev.steadyrun.orchestrator.recovery.ProgressWatch;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.run.RunSpecs;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunTelemetry;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerReport;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Takes trainers' reports with generation fencing: a report of an older generation than the run's current one is
 * refused (409) and its node is told to stop that trainer; so is one from a node that does not hold the rank it
 * claims. The run row is locked {@code FOR UPDATE}: a report and a new placement of the same run never interleave,
 * and two ranks' reports, which both update the run's progress, queue instead of deadlocking on a shared lock.
 */
@Service
class ReportHandler {

    static final int MAX_SHA = 64;
    /** The rank whose trainer writes (commits) every checkpoint of a run. */
    static final int WRITER_RANK = 0;

    private static final Logger log = LoggerFactory.getLogger(ReportHandler.class);

    private final RunRepository runs;
    private final RunService runService;
    private final RunTelemetry telemetry;
    private final Checkpoints checkpoints;
    private final ProgressWatch progress;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final GenerationFence fence;
    private final Counter received;
    private final Counter refused;
    private final Counter refusedCheckpoints;
    private final RunSpecs specs;
    private final MemorySnapshots memorySnapshots;

    ReportHandler(RunRepository runs, RunService runService, RunTelemetry telemetry, Checkpoints checkpoints,
                  GenerationFence fence, ProgressWatch progress, RunSpecs specs,
                  PlatformTransactionManager transactions, Clock clock, MeterRegistry registry,
                  MemorySnapshots memorySnapshots) {
        this.memorySnapshots = memorySnapshots;
        this.specs = specs;
        this.progress = progress;
        this.checkpoints = checkpoints;
        this.runs = runs;
        this.runService = runService;
        this.telemetry = telemetry;
        this.fence = fence;
        this.tx = new TransactionTemplate(transactions);
        this.clock = clock;
        this.received = Counter.builder("steadyrun.run.reports.received")
                .description("Trainer reports received from agents").register(registry);
        this.refused = Counter.builder("steadyrun.run.reports.refused")
                .description("Trainer reports refused by generation fencing").register(registry);
        this.refusedCheckpoints = Counter.builder("steadyrun.run.checkpoints.refused")
                .description("Checkpoint lines refused: not from the writing rank, or outside the run's directory")
                .register(registry);
    }

    void accept(UUID nodeId, TrainerReport report) {
        received.increment();
        validate(report);
        List<StepMetrics> steps = report.steps() == null ? List.of() : report.steps();
        List<CheckpointWritten> checkpoints = report.checkpoints() == null ? List.of() : report.checkpoints();
        RunState before = tx.execute(status -> {
            Run run = runs.findForUpdate(report.runId()).orElseThrow(() -> RunService.notFound(report.runId()));
            try {
                fence.check(nodeId, run, report.rank(), report.generation());
            } catch (StaleGenerationException e) {
                refused.increment();
                throw e;
            }
            Instant now = clock.instant();
            telemetry.storeSteps(run.getId(), report.generation(), report.rank(), steps, now);
            this.checkpoints.store(run.getId(), report.generation(), admissible(nodeId, report, run,
                    checkpoints.stream().filter(c -> !c.inMemory()).toList()), now);
            // every rank reports the memory snapshots its own node holds
            memorySnapshots.store(run.getId(), report.generation(), nodeId, report.rank(), run.getWorldSize(),
                    admissibleSnapshots(nodeId, report, run, checkpoints), now);
            steps.stream().max(Comparator.comparingLong(StepMetrics::step)).ifPresent(last ->
                    runs.recordProgress(run.getId(), last.step(), last.loss(), last.tokensSeen()));
            return run.getState();
        });
        if (before == RunState.STARTING && !steps.isEmpty()) {
            runService.markRunning(report.runId(), report.generation(), "node:" + nodeId);
        }
        if (!steps.isEmpty()) { // after the commit: a divergence is acted on at the report that shows it
            progress.onSteps(report.runId(), report.generation(), report.rank(), steps);
        }
    }

    /**
     * The checkpoint lines that may become restore points: only the writing rank's (rank 0 commits every
     * checkpoint), only in the run's own checkpoint directory ({@link CheckpointPaths}). The others are dropped and
     * logged; the report's steps are kept.
     */
    private List<CheckpointWritten> admissible(UUID nodeId, TrainerReport report, Run run,
                                               List<CheckpointWritten> lines) {
        if (lines.isEmpty()) {
            return lines;
        }
        String dir = specs.of(run).checkpointDir(run.getId());
        List<CheckpointWritten> kept = new ArrayList<>();
        for (CheckpointWritten c : lines) {
            String refusal = report.rank() != WRITER_RANK
                    ? "only rank " + WRITER_RANK + " writes checkpoints, this is rank " + report.rank()
                    : CheckpointPaths.refusal(c, dir);
            if (refusal == null) {
                kept.add(c);
            } else {
                refusedCheckpoints.increment();
                log.warn("Run {}: checkpoint line of step {} from node {} refused: {}", run.getId(), c.step(), nodeId,
                        refusal);
            }
        }
        return kept;
    }

    /**
     * The memory snapshot lines that may become restore points: a rank reports only its own, naming ranks of the
     * run. The others are dropped and logged.
     */
    private List<CheckpointWritten> admissibleSnapshots(UUID nodeId, TrainerReport report, Run run,
                                                        List<CheckpointWritten> lines) {
        List<CheckpointWritten> kept = new ArrayList<>();
        for (CheckpointWritten c : lines.stream().filter(CheckpointWritten::inMemory).toList()) {
            String refusal = c.rank() == null || c.rank() != report.rank()
                    ? "a rank reports only its own snapshots: the line names rank " + c.rank() + ", the report rank "
                    + report.rank()
                    : c.heldRanks().stream().anyMatch(r -> r == null || r < 0 || r >= run.getWorldSize())
                    ? "held ranks " + c.heldRanks() + " outside the run's " + run.getWorldSize() + " ranks" : null;
            if (refusal == null) {
                kept.add(c);
            } else {
                refusedCheckpoints.increment();
                log.warn("Run {}: memory snapshot line of step {} from node {} refused: {}", run.getId(), c.step(),
                        nodeId, refusal);
            }
        }
        return kept;
    }

    private static void validate(TrainerReport report) {
        if (report.runId() == null) {
            throw new BadRequestException("runId", "is required");
        }
        if (report.generation() < 1) {
            throw new BadRequestException("generation", "must be 1 or more, was " + report.generation());
        }
        if (report.rank() < 0) {
            throw new BadRequestException("rank", "must be 0 or more, was " + report.rank());
        }
        List<StepMetrics> steps = report.steps() == null ? List.of() : report.steps();
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i) == null || steps.get(i).step() < 0) {
                throw new BadRequestException("steps[" + i + "].step", "must be 0 or more");
            }
        }
        List<CheckpointWritten> checkpoints = report.checkpoints() == null ? List.of() : report.checkpoints();
        for (int i = 0; i < checkpoints.size(); i++) {
            CheckpointWritten c = checkpoints.get(i);
            if (c == null || c.step() < 0) {
                throw new BadRequestException("checkpoints[" + i + "].step", "must be 0 or more");
            }
            if (c.path() == null || c.path().isBlank() || c.path().length() > 4000) {
                throw new BadRequestException("checkpoints[" + i + "].path", "must be 1 to 4000 characters");
            }
            if (c.manifestSha256() == null || c.manifestSha256().length() > MAX_SHA) {
                throw new BadRequestException("checkpoints[" + i + "].manifestSha256",
                        "must be a SHA-256 of at most " + MAX_SHA + " characters");
            }
            if (!CheckpointWritten.DURABLE.equals(c.kind()) && !c.inMemory()) {
                throw new BadRequestException("checkpoints[" + i + "].kind", "must be " + CheckpointWritten.DURABLE
                        + " or " + CheckpointWritten.MEMORY);
            }
            if (c.shardSha256() != null && c.shardSha256().length() > MAX_SHA
                    || c.replicaSha256() != null && c.replicaSha256().length() > MAX_SHA) {
                throw new BadRequestException("checkpoints[" + i + (c.replicaSha256() != null
                        && c.replicaSha256().length() > MAX_SHA ? "].replicaSha256" : "].shardSha256"),
                        "must be a SHA-256 of at most " + MAX_SHA + " characters");
            }
            if (c.heldRanks().size() > 2) {
                throw new BadRequestException("checkpoints[" + i + "].heldRanks", "at most 2 ranks (its own and its"
                        + " ring predecessor's), was " + c.heldRanks().size());
            }
        }
    }
}
