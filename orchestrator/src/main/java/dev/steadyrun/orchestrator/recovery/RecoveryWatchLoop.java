package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;

import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.quartz.QuartzJobBean;

import dev.steadyrun.orchestrator.periodic.Periodic;
import dev.steadyrun.orchestrator.scheduling.SchedulingLoop;

/**
 * Runs {@link ProgressWatch#watch} every {@code steadyrun.recovery.watch-interval} as a Quartz job; while a run
 * recovers it also asks for a scheduling pass, so a restart follows its backoff within one interval rather than
 * waiting for the periodic pass.
 */
@Configuration(proxyBeanMethods = false)
class RecoveryWatchLoop {

    @Bean
    JobDetail recoveryWatchJob() {
        return Periodic.job(WatchJob.class, "recovery-watch", "recovery");
    }

    @Bean
    Trigger recoveryWatchTrigger(JobDetail recoveryWatchJob, RecoveryProperties props) {
        return Periodic.every(recoveryWatchJob, props.watchInterval());
    }

    @DisallowConcurrentExecution
    static class WatchJob extends QuartzJobBean {
        private final ProgressWatch watch;
        private final SchedulingLoop scheduling;
        private final RecoveryProperties props;
        private final Clock clock;

        WatchJob(ProgressWatch watch, SchedulingLoop scheduling, RecoveryProperties props, Clock clock) {
            this.watch = watch;
            this.scheduling = scheduling;
            this.props = props;
            this.clock = clock;
        }

        @Override
        protected void executeInternal(JobExecutionContext context) {
            if (props.watchEnabled() && watch.watch(clock.instant())) {
                scheduling.request();
            }
        }
    }
}
