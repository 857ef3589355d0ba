package dev.steadyrun.orchestrator.node;

import java.time.Clock;

import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.quartz.QuartzJobBean;

/**
 * The fleet's Quartz jobs, in the clustered JDBC job store (so that one orchestrator instance runs each sweep).
 * The jobs only read the clock and call the sweep beans, which hold the logic.
 */
@Configuration(proxyBeanMethods = false)
class FleetJobs {

    static final String GROUP = "fleet";

    @Bean
    JobDetail leaseSweepJob() {
        return JobBuilder.newJob(LeaseSweepJob.class).withIdentity("lease-sweep", GROUP).storeDurably().build();
    }

    @Bean
    Trigger leaseSweepTrigger(JobDetail leaseSweepJob, FleetProperties props) {
        return TriggerBuilder.newTrigger().forJob(leaseSweepJob).withIdentity("lease-sweep", GROUP)
                .withSchedule(SimpleScheduleBuilder.simpleSchedule()
                        .withIntervalInMilliseconds(props.sweepInterval().toMillis()).repeatForever()
                        .withMisfireHandlingInstructionNextWithRemainingCount())
                .build();
    }

    @Bean
    JobDetail retentionJob() {
        return JobBuilder.newJob(RetentionJob.class).withIdentity("node-event-retention", GROUP).storeDurably()
                .build();
    }

    @Bean
    Trigger retentionTrigger(JobDetail retentionJob, FleetProperties props) {
        return TriggerBuilder.newTrigger().forJob(retentionJob).withIdentity("node-event-retention", GROUP)
                .withSchedule(SimpleScheduleBuilder.simpleSchedule()
                        .withIntervalInMilliseconds(props.retentionInterval().toMillis()).repeatForever()
                        .withMisfireHandlingInstructionNextWithRemainingCount())
                .build();
    }

    @DisallowConcurrentExecution
    static class LeaseSweepJob extends QuartzJobBean {
        private final LeaseSweeper sweeper;
        private final Clock clock;

        LeaseSweepJob(LeaseSweeper sweeper, Clock clock) {
            this.sweeper = sweeper;
            this.clock = clock;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            sweeper.sweep(clock.instant());
        }
    }

    @DisallowConcurrentExecution
    static class RetentionJob extends QuartzJobBean {
        private final NodeEventRetention retention;
        private final Clock clock;

        RetentionJob(NodeEventRetention retention, Clock clock) {
            this.retention = retention;
            this.clock = clock;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            retention.sweep(clock.instant());
        }
    }
}
