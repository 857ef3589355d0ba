package dev.steadyrun.orchestrator.periodic;

import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.database.ActiveOrchestratorLock;
import dev.steadyrun.orchestrator.database.OrchestratorActivated;

/**
 * Starts the periodic tasks on the active orchestrator only ({@code spring.quartz.auto-startup} is off): when it is
 * ready holding the lock, or when a standby took over, after everything kept in memory was loaded again.
 */
@Component
class PeriodicStart {

    private final Scheduler scheduler;
    private final ActiveOrchestratorLock lock;

    PeriodicStart(Scheduler scheduler, ActiveOrchestratorLock lock) {
        this.scheduler = scheduler;
        this.lock = lock;
    }

    @EventListener(ApplicationReadyEvent.class)
    void ready() throws SchedulerException {
        if (lock.isActive()) {
            scheduler.start();
        }
    }

    @EventListener(OrchestratorActivated.class)
    @Order(Ordered.LOWEST_PRECEDENCE) // after the loaders, which listen with the highest precedence
    void activated() throws SchedulerException {
        scheduler.start();
    }
}
