package dev.steadyrun.orchestrator.scheduling;

import java.util.concurrent.atomic.AtomicBoolean;

import jakarta.annotation.PreDestroy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;
import org.springframework.transaction.event.TransactionPhase;
import org.springframework.transaction.event.TransactionalEventListener;

import dev.steadyrun.orchestrator.run.RunGauges;
import dev.steadyrun.orchestrator.run.RunStateMachine.RunStateChanged;

/**
 * Runs the {@link SchedulingPass} on its own thread, never on a request or heartbeat thread: after every run
 * transition, after every stop a heartbeat confirmed, and every {@code steadyrun.scheduling.pass-interval}
 * (nodes that turned healthy, changes made by other replicas). After each pass it installs a fresh directive
 * snapshot and recounts the run gauges.
 */
@Component
public class SchedulingLoop implements SmartInitializingSingleton {

    private static final Logger log = LoggerFactory.getLogger(SchedulingLoop.class);

    private final SchedulingPass pass;
    private final NodeDirectives directives;
    private final DirectiveSnapshotLoader snapshots;
    private final RunGauges gauges;
    private final SchedulingProperties props;
    private final ThreadPoolTaskScheduler thread = new ThreadPoolTaskScheduler();
    private final AtomicBoolean requested = new AtomicBoolean();
    private volatile boolean started;

    SchedulingLoop(SchedulingPass pass, NodeDirectives directives, DirectiveSnapshotLoader snapshots,
                   RunGauges gauges, SchedulingProperties props) {
        this.pass = pass;
        this.directives = directives;
        this.snapshots = snapshots;
        this.gauges = gauges;
        this.props = props;
        thread.setPoolSize(1);
        thread.setThreadNamePrefix("scheduling-pass-");
        thread.setWaitForTasksToCompleteOnShutdown(false);
    }

    /**
     * Loads the directives before the web server takes heartbeats: after an orchestrator restart the placements
     * in the database keep their trainers running instead of being told to stop by an empty snapshot.
     */
    @Override
    public void afterSingletonsInstantiated() {
        directives.install(snapshots.load());
    }

    @EventListener(ApplicationReadyEvent.class)
    void start() {
        thread.initialize();
        thread.scheduleWithFixedDelay(this::runSafely, props.passInterval());
        started = true;
    }

    @PreDestroy
    void stop() {
        thread.shutdown();
    }

    @TransactionalEventListener(phase = TransactionPhase.AFTER_COMMIT, fallbackExecution = true)
    void onRunStateChanged(RunStateChanged event) {
        request();
    }

    @EventListener
    void onStopConfirmed(NodeDirectives.StopConfirmed stop) {
        request();
    }

    /** Asks for a pass soon; requests made while one is queued are folded into it. */
    public void request() {
        if (started && requested.compareAndSet(false, true)) {
            thread.execute(() -> {
                requested.set(false);
                runSafely();
            });
        }
    }

    /**
     * One pass and a fresh snapshot; synchronized so that this replica's passes never overlap. Tests call it to
     * settle what they just did without waiting for the pass thread.
     */
    public synchronized void runOnce() {
        if (!pass.run()) {
            log.debug("Another replica holds the scheduling lock");
        }
        directives.install(snapshots.load());
        gauges.recount();
    }

    private void runSafely() {
        try {
            runOnce();
        } catch (RuntimeException e) {
            log.warn("Scheduling pass failed; the next one retries", e);
        }
    }
}
