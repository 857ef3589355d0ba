package dev.steadyrun.orchestrator.scheduling;

import java.util.concurrent.atomic.AtomicBoolean;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.scheduling.quartz.QuartzJobBean;
import org.springframework.stereotype.Component;
import org.springframework.transaction.event.TransactionPhase;
import org.springframework.transaction.event.TransactionalEventListener;

import dev.steadyrun.orchestrator.database.OrchestratorActivated;
import dev.steadyrun.orchestrator.periodic.Periodic;
import dev.steadyrun.orchestrator.run.RunGauges;
import dev.steadyrun.orchestrator.run.RunStateMachine.RunStateChanged;

/**
 * Runs the {@link SchedulingPass} as a Quartz job, never on a request or heartbeat thread: after every run transition,
 * after every stop a heartbeat confirmed ({@link #request}: the job is fired at once), and every
 * {@code steadyrun.scheduling.pass-interval} (nodes that turned healthy, backoffs that ended). After each pass it
 * installs a fresh directive snapshot and recounts the run gauges.
 */
@Component
public class SchedulingLoop implements SmartInitializingSingleton {

    private static final Logger log = LoggerFactory.getLogger(SchedulingLoop.class);

    private final SchedulingPass pass;
    private final NodeDirectives directives;
    private final DirectiveSnapshotLoader snapshots;
    private final RunGauges gauges;
    private final Scheduler scheduler;
    private final JobDetail job;
    private final AtomicBoolean requested = new AtomicBoolean();
    private final Timer passTimer;

    SchedulingLoop(SchedulingPass pass, NodeDirectives directives, DirectiveSnapshotLoader snapshots,
                   RunGauges gauges, Scheduler scheduler, JobDetail schedulingPassJob, MeterRegistry registry) {
        this.passTimer = Timer.builder("steadyrun.scheduling.pass")
                .description("One scheduling pass with its directive snapshot (a pass another orchestrator's lock"
                        + " skipped included)").publishPercentileHistogram().register(registry);
        this.pass = pass;
        this.directives = directives;
        this.snapshots = snapshots;
        this.gauges = gauges;
        this.scheduler = scheduler;
        this.job = schedulingPassJob;
    }

    /**
     * Loads the directives before the web server takes heartbeats: after an orchestrator restart the placements
     * in the database keep their trainers running instead of being told to stop by an empty snapshot.
     */
    @Override
    public void afterSingletonsInstantiated() {
        directives.install(snapshots.load());
    }

    /** A standby took over: the placements are the ones the active orchestrator left. */
    @EventListener(OrchestratorActivated.class)
    @Order(Ordered.HIGHEST_PRECEDENCE)
    synchronized void activated() { // never between a pass and its snapshot: a stale one would be installed last
        directives.install(snapshots.load());
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
        try {
            if (scheduler.isStarted() && !scheduler.isInStandbyMode() && requested.compareAndSet(false, true)) {
                scheduler.triggerJob(job.getKey());
            }
        } catch (SchedulerException e) {
            requested.set(false);
            log.warn("Could not ask for a scheduling pass; the periodic one follows: {}", e.getMessage());
        }
    }

    /**
     * One pass and a fresh snapshot; synchronized so that passes never overlap. Tests call it to settle what they
     * just did without waiting for the job.
     */
    public synchronized void runOnce() {
        passTimer.record(() -> {
            if (!pass.run()) {
                log.debug("Another orchestrator holds the scheduling lock");
            }
            directives.install(snapshots.load());
        });
        gauges.recount();
    }

    private void runSafely() {
        requested.set(false);
        try {
            runOnce();
        } catch (RuntimeException e) {
            log.warn("Scheduling pass failed; the next one retries", e);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class SchedulingJobs {

        @Bean
        JobDetail schedulingPassJob() {
            return Periodic.job(PassJob.class, "scheduling-pass", "scheduling");
        }

        @Bean
        Trigger schedulingPassTrigger(JobDetail schedulingPassJob, SchedulingProperties props) {
            return Periodic.every(schedulingPassJob, props.passInterval());
        }
    }

    @DisallowConcurrentExecution
    static class PassJob extends QuartzJobBean {
        private final SchedulingLoop loop;

        PassJob(SchedulingLoop loop) {
            this.loop = loop;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            loop.runSafely();
        }
    }
}
