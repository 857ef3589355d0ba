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

    /**
     * How the note of a restart that finds no gang of nodes begins: from it to the run's next transition the run
     * waits for nodes ({@link GoodputLedger}), though it stays RECOVERING.
     */
    public static final String WAITING_FOR_NODES = "restart waits for nodes: ";

    /** The width of {@code run_event.reason}. */
    static final int MAX_REASON = 1000;

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
        String text = clip(reason);
        run.moveTo(target, text, clock.instant());
        events.save(new RunEvent(run.getId(), clock.instant(), from, target, run.getGeneration(), text, actor));
        publisher.publishEvent(new RunStateChanged(run.getId(), from, target));
    }

    /**
     * A row of the run's history that changes no state (from and to are its current state): something an operator
     * should see on the run, such as a placement that failed. Written once: not again while it is the latest row.
     *
     * @return false when the run's latest row already says this
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public boolean note(Run run, String reason, String actor) {
        String text = clip(reason);
        boolean repeated = events.findTopByRunIdOrderByIdDesc(run.getId())
                .map(last -> last.getReason().equals(text)).orElse(false);
        if (!repeated) {
            events.save(new RunEvent(run.getId(), clock.instant(), run.getState(), run.getState(),
                    run.getGeneration(), text, actor));
        }
        return !repeated;
    }

    /**
     * A reason that fits {@code run.state_reason} and {@code run_event.reason}: a placement names every node, and a
     * 992-rank gang's names are far longer than the column (found by the soak, docs/soak.md: the insert failed and
     * the run stayed pending).
     */
    static String clip(String reason) {
        return reason.length() <= MAX_REASON ? reason : reason.substring(0, MAX_REASON - 1) + "…";
    }

    /** The first row of a run's history, written at submission. */
    @Transactional(propagation = Propagation.MANDATORY)
    void recordSubmission(Run run, String actor) {
        events.save(new RunEvent(run.getId(), clock.instant(), null, run.getState(), 0, "submitted", actor));
        publisher.publishEvent(new RunStateChanged(run.getId(), null, run.getState()));
    }
}
