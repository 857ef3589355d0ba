package dev.steadyrun.orchestrator.periodic;

import java.time.Duration;

import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.springframework.scheduling.quartz.QuartzJobBean;

/**
 * Every periodic task of the orchestrator is a Quartz job (in memory: one orchestrator serves a database, so there is
 * nothing to share through a clustered job store); this builds their job details and repeating triggers alike. Each
 * feature declares its own jobs next to its code ({@code FleetJobs}, {@code SchedulingJobs}, ...), and a trigger only
 * when its task is enabled, so that tests can drive a task themselves with their clock.
 */
public final class Periodic {

    private Periodic() {
    }

    public static JobDetail job(Class<? extends QuartzJobBean> type, String name, String group) {
        return JobBuilder.newJob(type).withIdentity(name, group).storeDurably().build();
    }

    /** Fires {@code job} every {@code interval}; a run missed while the scheduler was busy is skipped, not bunched. */
    public static Trigger every(JobDetail job, Duration interval) {
        return TriggerBuilder.newTrigger().forJob(job).withIdentity(job.getKey().getName(), job.getKey().getGroup())
                .withSchedule(SimpleScheduleBuilder.simpleSchedule()
                        .withIntervalInMilliseconds(interval.toMillis()).repeatForever()
                        .withMisfireHandlingInstructionNextWithRemainingCount())
                .build();
    }
}
