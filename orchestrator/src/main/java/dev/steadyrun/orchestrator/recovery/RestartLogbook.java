package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.alert.AlertEventType;
import dev.steadyrun.orchestrator.alert.AlertOutbox;
import dev.steadyrun.orchestrator.run.RunStateMachine;
import dev.steadyrun.orchestrator.scheduling.Generations;
import dev.steadyrun.orchestrator.scheduling.RestartPlacer;

/**
 * Keeps the incidents' logbook in step with what happened after their decision: the restart placer waiting, picking
 * another checkpoint or placing the next generation; that generation's first step (the incidents it answers are
 * RECOVERED, with their time to recovery); the run ending before they settled (CLOSED). Every listener runs in the
 * transaction of the change it records.
 */
@Component
class RestartLogbook {

    private final Incidents incidents;
    private final RecoveryActions actions;
    private final Generations generations;
    private final AlertOutbox alerts;
    private final RecoveryMetrics metrics;
    private final TransactionTemplate tx;

    RestartLogbook(Incidents incidents, RecoveryActions actions, Generations generations, AlertOutbox alerts,
                   RecoveryMetrics metrics, PlatformTransactionManager transactions) {
        this.incidents = incidents;
        this.actions = actions;
        this.generations = generations;
        this.alerts = alerts;
        this.metrics = metrics;
        this.tx = new TransactionTemplate(transactions);
    }

    @EventListener
    void onWaiting(RestartPlacer.Waiting e) {
        incidents.waiting(e.incidentId(), e.why());
    }

    @EventListener
    void onRestoreReplaced(RestartPlacer.RestoreReplaced e) {
        incidents.restoreInstead(e.incidentId(), e.restore() == null ? null
                : new IncidentResponse.RestorePoint(e.restore().step(), e.restore().path()), e.skipped());
    }

    @EventListener
    void onNoRestorePoint(RestartPlacer.NoRestorePoint e) {
        actions.callHuman(e.runId(), e.incidentId(), "no checkpoint the decision's rule allows is usable any more;"
                + " the run has checkpoints, so it is not restarted from scratch: a human decides");
    }

    @EventListener
    void onPlaced(RestartPlacer.Placed e) {
        incidents.placed(e.runId(), e.generation(), e.swappedIn(), e.swappedInName());
    }

    /** A run that ended leaves no incident waiting to settle (in the transaction of the run's transition). */
    @EventListener
    void onRunStateChanged(RunStateMachine.RunStateChanged e) {
        if (e.to().isTerminal()) {
            incidents.closeForEndedRun(e.runId(), "the run ended (" + e.to() + ") before this incident settled");
        }
    }

    /** The first step of a generation: the incidents it answers are recovered. */
    void recovered(UUID runId, long generation, Instant now) {
        List<IncidentResponse> settled = tx.execute(status -> {
            if (!generations.markFirstStep(runId, generation, now)) {
                return List.<IncidentResponse>of();
            }
            List<IncidentResponse> done = incidents.recovered(runId, generation, now);
            for (IncidentResponse i : done) {
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("runId", runId.toString());
                data.put("incidentId", i.id());
                data.put("kind", i.kind().name());
                data.put("generation", generation);
                data.put("timeToRecoverySeconds", i.timeToRecoverySeconds());
                data.put("summary", "run " + runId + " recovered from incident #" + i.id() + " (" + i.kind()
                        + ") at generation " + generation);
                alerts.publish(AlertEventType.INCIDENT_RESOLVED, runId.toString(), data);
            }
            return done;
        });
        settled.forEach(i -> metrics.recovered(i.kind(), Duration.between(i.detectedAt(), i.recoveredAt())));
    }
}
