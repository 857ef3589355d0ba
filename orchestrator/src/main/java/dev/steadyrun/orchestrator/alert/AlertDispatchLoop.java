package dev.steadyrun.orchestrator.alert;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Runs {@link AlertDispatcher#dispatchDue} every {@code poll-interval} on its own thread, in every replica (claims
 * are per row, so replicas share the work), and the {@link AlertRetention} sweep every {@code retention-interval}.
 * Its own thread because an attempt may wait for a slow receiver up to its timeouts, which must not hold up the
 * shared scheduler's lease sweeps.
 */
@Component
class AlertDispatchLoop implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(AlertDispatchLoop.class);

    private final AlertDispatcher dispatcher;
    private final AlertRetention retention;
    private final AlertProperties props;
    private ScheduledExecutorService executor;

    AlertDispatchLoop(AlertDispatcher dispatcher, AlertRetention retention, AlertProperties props) {
        this.dispatcher = dispatcher;
        this.retention = retention;
        this.props = props;
    }

    @Override
    public synchronized void start() {
        if (!props.dispatchEnabled() || executor != null) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "webhook-dispatcher");
            t.setDaemon(true);
            return t;
        });
        long every = props.pollInterval().toMillis();
        executor.scheduleWithFixedDelay(() -> guarded("dispatch pass", dispatcher::dispatchDue), every, every,
                TimeUnit.MILLISECONDS);
        long purgeEvery = props.retentionInterval().toMillis();
        executor.scheduleWithFixedDelay(() -> guarded("retention sweep", retention::purge), purgeEvery, purgeEvery,
                TimeUnit.MILLISECONDS);
    }

    private static void guarded(String what, Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            // e.g. the database is away for a moment: the next run retries, nothing is lost (the outbox is durable)
            log.warn("Webhook {} failed: {}", what, e.toString());
        }
    }

    @Override
    public synchronized void stop() {
        if (executor == null) {
            return;
        }
        executor.shutdownNow();
        try {
            // an attempt in flight is abandoned; its lease expires and the delivery is sent again later
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor = null;
    }

    @Override
    public synchronized boolean isRunning() {
        return executor != null;
    }
}
