package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.GoodputLedger;
import dev.steadyrun.orchestrator.run.RunTelemetry;
import dev.steadyrun.orchestrator.scheduling.Placements;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * Failures found in a run's progress, turned into {@link Detection}s for {@link RecoveryActions}: each accepted step
 * report goes through the run's detectors ({@link RunWatches}: divergence, stragglers, and the first step of a
 * restart, which settles its incidents), and {@link #watch} looks at every live run every watch interval (the hang
 * backstop) and refreshes the runs' gauges (step, loss, loss scale, tokens/s, restarts, goodput).
 */
@Component
public class ProgressWatch {

    private final RecoveryActions actions;
    private final RunWatches watches;
    private final RestartLogbook logbook;
    private final RunRepository runs;
    private final RunTelemetry telemetry;
    private final GoodputLedger ledger;
    private final Placements placements;
    private final NodeRegistry nodes;
    private final RecoveryMetrics metrics;
    private final RecoveryProperties props;
    private final Clock clock;

    ProgressWatch(RecoveryActions actions, RunWatches watches, RestartLogbook logbook, RunRepository runs,
                  RunTelemetry telemetry, GoodputLedger ledger, Placements placements, NodeRegistry nodes, RecoveryMetrics metrics,
                  RecoveryProperties props, Clock clock) {
        this.actions = actions;
        this.watches = watches;
        this.logbook = logbook;
        this.runs = runs;
        this.telemetry = telemetry;
        this.ledger = ledger;
        this.placements = placements;
        this.nodes = nodes;
        this.metrics = metrics;
        this.props = props;
        this.clock = clock;
    }

    /** Steps a rank reported (accepted, after commit): divergence, stragglers, and the first step of a restart. */
    public void onSteps(UUID runId, long generation, int rank, List<StepMetrics> steps) {
        Instant now = clock.instant();
        RunWatch watch = watches.of(runId, generation, now);
        if (watch == null) {
            return;
        }
        RunWatch.Seen seen;
        synchronized (watch) {
            seen = watch.accept(rank, steps, now);
        }
        if (seen.firstStep()) {
            logbook.recovered(runId, generation, now);
        }
        seen.divergence().ifPresent(d -> {
            Map<String, Object> evidence = new LinkedHashMap<>();
            evidence.put("rule", d.kind().name());
            evidence.put("reason", d.reason());
            evidence.put("detectedAtStep", d.detectedAt());
            evidence.put("metrics", d.evidence());
            actions.open(new Detection(runId, generation, IncidentKind.DIVERGENCE, IncidentCause.DIVERGENCE,
                    RemediationLadder.Incident.DIVERGENCE, "loss diverged at step " + d.onsetStep() + ": "
                    + d.reason(), null, null, d.onsetStep(), d.kind(), evidence, null, Duration.ZERO), null);
        });
        seen.window().filter(w -> !w.stragglers().isEmpty()).ifPresent(w -> {
            int slow = w.stragglers().get(0);
            Optional<Placements.Row> seat = seatOf(runId, generation, slow);
            if (seat.isEmpty()) {
                return;
            }
            Map<String, Object> evidence = new LinkedHashMap<>();
            Map<String, Double> scores = new LinkedHashMap<>();
            w.scores().forEach((r, s) -> scores.put(String.valueOf(r), s));
            evidence.put("stragglerScores", scores);
            evidence.put("stragglers", w.stragglers());
            UUID node = seat.get().nodeId();
            actions.open(Detection.of(runId, generation, IncidentKind.STRAGGLER, IncidentCause.HARDWARE,
                    RemediationLadder.Incident.STRAGGLER, String.format("rank %d on %s is a persistent straggler"
                    + " (score %.2f)", slow, nodes.view(node).name(), w.scores().get(slow)), node, slow, null,
                    evidence), null);
        });
    }

    /**
     * The hang backstop over every live run's progress, and the runs' gauges (live and recovering runs only).
     * Called every {@code steadyrun.recovery.watch-interval}; tests call it with their clock.
     *
     * @return whether a run is recovering (its restart may be due)
     */
    public boolean watch(Instant now) {
        List<Run> live = runs.findLiveOldestFirst();
        for (Run run : live) {
            RunWatch watch = watches.of(run.getId(), run.getGeneration(), now);
            if (watch == null) {
                continue; // the run moved on (or is gone) since it was listed
            }
            Duration grace = props.hangBackstopGrace();
            Optional<HangDetector.Hang> hang;
            synchronized (watch) {
                hang = watch.hang(now.minus(grace)); // judged as of `grace` ago: stuck for longer than limit + grace
            }
            hang.ifPresent(h -> {
                Duration stalled = h.stalledFor().plus(grace);
                int rank = h.ranks().get(0);
                Placements.Row seat = seatOf(run.getId(), run.getGeneration(), rank).orElse(null);
                Map<String, Object> evidence = new LinkedHashMap<>();
                evidence.put("ranks", h.ranks());
                evidence.put("stalledForSeconds", stalled.toMillis() / 1000.0);
                evidence.put("limitSeconds", h.limit().toMillis() / 1000.0);
                evidence.put("backstopGraceSeconds", grace.toMillis() / 1000.0);
                evidence.put("threadDumpUnavailable", TrainerStatus.NO_THREAD_DUMP + "detected by the orchestrator"
                        + " from step reports; the agent's watchdog takes thread dumps");
                actions.open(new Detection(run.getId(), run.getGeneration(), IncidentKind.HANG,
                        IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.HANG,
                        String.format("ranks %s made no step for %.0f s (limit %.0f s)", h.ranks(),
                                stalled.toMillis() / 1000.0, h.limit().toMillis() / 1000.0),
                        seat == null ? null : seat.nodeId(), rank, h.step() < 0 ? null : h.step(), null, evidence,
                        null, stalled.minus(h.limit())), null);
            });
        }
        List<Run> measured = new ArrayList<>(live);
        List<Run> recovering = runs.findInStateOldestFirst(RunState.RECOVERING);
        measured.addAll(recovering);
        List<RecoveryMetrics.RunFigures> figures = new ArrayList<>();
        for (Run run : measured) {
            RunTelemetry.RecoveryFigures f = telemetry.recoveryFigures(run.getId(), run.getState(),
                    run.getStateChangedAt(), now);
            figures.add(new RecoveryMetrics.RunFigures(run.getId(), telemetry.lastStep(run.getId()), f.restarts(),
                    f.goodput(), ledger.breakdown(run.getId(), now)));
        }
        metrics.runs(figures);
        Set<UUID> liveIds = new HashSet<>();
        measured.forEach(r -> liveIds.add(r.getId()));
        watches.retain(liveIds);
        return !recovering.isEmpty();
    }

    private Optional<Placements.Row> seatOf(UUID runId, long generation, int rank) {
        return placements.seatOf(runId, generation, rank); // the node's seat: a straggling rank blames its node
    }
}
