package dev.steadyrun.orchestrator.node;

import java.time.Clock;

import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.quartz.QuartzJobBean;

import dev.steadyrun.orchestrator.periodic.Periodic;

/** The fleet's periodic jobs: the lease sweep, writing lease renewals, and node-event retention. */
@Configuration(proxyBeanMethods = false)
class FleetJobs {

    static final String GROUP = "fleet";

    @Bean
    JobDetail leaseSweepJob() {
        return Periodic.job(LeaseSweepJob.class, "lease-sweep", GROUP);
    }

    @Bean
    Trigger leaseSweepTrigger(JobDetail leaseSweepJob, FleetProperties props) {
        return Periodic.every(leaseSweepJob, props.sweepInterval());
    }

    @Bean
    JobDetail leaseFlushJob() {
        return Periodic.job(LeaseFlushJob.class, "lease-flush", GROUP);
    }

    @Bean
    Trigger leaseFlushTrigger(JobDetail leaseFlushJob, FleetProperties props) {
        return Periodic.every(leaseFlushJob, props.flushInterval());
    }

    @Bean
    JobDetail retentionJob() {
        return Periodic.job(RetentionJob.class, "node-event-retention", GROUP);
    }

    @Bean
    Trigger retentionTrigger(JobDetail retentionJob, FleetProperties props) {
        return Periodic.every(retentionJob, props.retentionInterval());
    }

    @DisallowConcurrentExecution
    static class LeaseSweepJob extends QuartzJobBean {
        private final LeaseSweeper sweeper;
        private final FleetProperties props;
        private final Clock clock;

        LeaseSweepJob(LeaseSweeper sweeper, FleetProperties props, Clock clock) {
            this.sweeper = sweeper;
            this.props = props;
            this.clock = clock;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            if (props.sweepEnabled()) {
                sweeper.sweep(clock.instant());
            }
        }
    }

    @DisallowConcurrentExecution
    static class LeaseFlushJob extends QuartzJobBean {
        private final LeaseTable leases;

        LeaseFlushJob(LeaseTable leases) {
            this.leases = leases;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            leases.flushQuietly();
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
