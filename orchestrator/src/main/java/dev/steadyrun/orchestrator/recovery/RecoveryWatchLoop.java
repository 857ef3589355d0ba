package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;

import jakarta.annotation.PreDestroy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.scheduling.SchedulingLoop;

/**
 * Runs {@link RecoveryService#watch} on its own thread every {@code steadyrun.recovery.watch-interval}; while a run
 * recovers it also asks for a scheduling pass, so a restart follows its backoff within one interval rather than
 * waiting for the periodic pass.
 */
@Component
class RecoveryWatchLoop {

    private static final Logger log = LoggerFactory.getLogger(RecoveryWatchLoop.class);

    private final RecoveryService recovery;
    private final SchedulingLoop scheduling;
    private final RecoveryProperties props;
    private final Clock clock;
    private final ThreadPoolTaskScheduler thread = new ThreadPoolTaskScheduler();

    RecoveryWatchLoop(RecoveryService recovery, SchedulingLoop scheduling, RecoveryProperties props, Clock clock) {
        this.recovery = recovery;
        this.scheduling = scheduling;
        this.props = props;
        this.clock = clock;
        thread.setPoolSize(1);
        thread.setThreadNamePrefix("recovery-watch-");
        thread.setWaitForTasksToCompleteOnShutdown(false);
    }

    @EventListener(ApplicationReadyEvent.class)
    void start() {
        if (!props.watchEnabled()) {
            return;
        }
        thread.initialize();
        thread.scheduleWithFixedDelay(() -> {
            try {
                if (recovery.watch(clock.instant())) {
                    scheduling.request();
                }
            } catch (RuntimeException e) {
                log.warn("Recovery watch failed; the next one retries", e);
            }
        }, props.watchInterval());
    }

    @PreDestroy
    void stop() {
        thread.shutdown();
    }
}
