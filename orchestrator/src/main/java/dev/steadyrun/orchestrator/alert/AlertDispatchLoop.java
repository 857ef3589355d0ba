package dev.steadyrun.orchestrator.alert;

import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.quartz.QuartzJobBean;

import dev.steadyrun.orchestrator.periodic.Periodic;

/**
 * Runs {@link AlertDispatcher#dispatchDue} every {@code poll-interval} and the {@link AlertRetention} sweep every
 * {@code retention-interval}, as Quartz jobs. An attempt may wait for a slow receiver up to its timeouts: it holds one
 * of the scheduler's threads meanwhile, never the lease sweep's.
 */
@Configuration(proxyBeanMethods = false)
class AlertDispatchLoop {

    private static final Logger log = LoggerFactory.getLogger(AlertDispatchLoop.class);

    @Bean
    JobDetail alertDispatchJob() {
        return Periodic.job(DispatchJob.class, "webhook-dispatch", "alerts");
    }

    @Bean
    Trigger alertDispatchTrigger(JobDetail alertDispatchJob, AlertProperties props) {
        return Periodic.every(alertDispatchJob, props.pollInterval());
    }

    @Bean
    JobDetail alertRetentionJob() {
        return Periodic.job(RetentionJob.class, "webhook-retention", "alerts");
    }

    @Bean
    Trigger alertRetentionTrigger(JobDetail alertRetentionJob, AlertProperties props) {
        return Periodic.every(alertRetentionJob, props.retentionInterval());
    }

    private static void guarded(String what, Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            // e.g. the database is away for a moment: the next run retries, nothing is lost (the outbox is durable)
            log.warn("Webhook {} failed: {}", what, e.toString());
        }
    }

    @DisallowConcurrentExecution
    static class DispatchJob extends QuartzJobBean {
        private final AlertDispatcher dispatcher;
        private final AlertProperties props;

        DispatchJob(AlertDispatcher dispatcher, AlertProperties props) {
            this.dispatcher = dispatcher;
            this.props = props;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            if (props.dispatchEnabled()) {
                guarded("dispatch pass", dispatcher::dispatchDue);
            }
        }
    }

    @DisallowConcurrentExecution
    static class RetentionJob extends QuartzJobBean {
        private final AlertRetention retention;
        private final AlertProperties props;

        RetentionJob(AlertRetention retention, AlertProperties props) {
            this.retention = retention;
            this.props = props;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            if (props.dispatchEnabled()) {
                guarded("retention sweep", retention::purge);
            }
        }
    }
}
