package dev.steadyrun.orchestrator.run;

import java.time.Clock;
import java.util.UUID;

import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * Applies run transitions: the guard, the new state, and its {@code run_event} row, in the caller's
 * transaction (which must hold the run's row lock). Listeners hear of it once that transaction commits.
 */
@Component
public class RunStateMachine {

    /** Published for every transition; scheduling listens after commit to place runs and refresh directives. */
    public record RunStateChanged(UUID runId, RunState from, RunState to) {
    }

    private final RunEventRepository events;
    private final ApplicationEventPublisher publisher;
    private final Clock clock;

    RunStateMachine(RunEventRepository events, ApplicationEventPublisher publisher, Clock clock) {
        this.events = events;
        this.publisher = publisher;
        this.clock = clock;
    }

    @Transactional(propagation = Propagation.MANDATORY)
    public void transition(Run run, RunState target, String reason, String actor) {
        RunState from = run.getState();
        RunState.checkTransition(from, target);
        run.moveTo(target, reason, clock.instant());
        events.save(new RunEvent(run.getId(), clock.instant(), from, target, run.getGeneration(), reason, actor));
        publisher.publishEvent(new RunStateChanged(run.getId(), from, target));
    }

    /** The first row of a run's history, written at submission. */
    @Transactional(propagation = Propagation.MANDATORY)
    void recordSubmission(Run run, String actor) {
        events.save(new RunEvent(run.getId(), clock.instant(), null, run.getState(), 0, "submitted", actor));
        publisher.publishEvent(new RunStateChanged(run.getId(), null, run.getState()));
    }
}
