package dev.steadyrun.orchestrator.run;

import java.time.Clock;

import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.quartz.QuartzJobBean;

import dev.steadyrun.orchestrator.periodic.Periodic;

/**
 * Runs {@link MetricRollup} (roll-up, retention, and the primary key's rebuild when due) every
 * {@code steadyrun.metric-rollup.interval}.
 */
@Configuration(proxyBeanMethods = false)
class MetricRollupJobs {

    @Bean
    JobDetail metricRollupJob() {
        return Periodic.job(RollupJob.class, "metric-rollup", "runs");
    }

    @Bean
    Trigger metricRollupTrigger(JobDetail metricRollupJob, MetricRollupProperties props) {
        return Periodic.every(metricRollupJob, props.interval());
    }

    @DisallowConcurrentExecution
    static class RollupJob extends QuartzJobBean {
        private final MetricRollup rollup;
        private final MetricRollupProperties props;
        private final Clock clock;

        RollupJob(MetricRollup rollup, MetricRollupProperties props, Clock clock) {
            this.rollup = rollup;
            this.props = props;
            this.clock = clock;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            if (props.enabled()) {
                rollup.rollUp(clock.instant());
                rollup.sweepRetention(clock.instant());
                rollup.reindexIfDue(clock.instant());
            }
        }
    }
}
