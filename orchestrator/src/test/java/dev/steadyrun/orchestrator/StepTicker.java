package dev.steadyrun.orchestrator;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import dev.steadyrun.orchestrator.database.LockTicker;

/** The database lock's time in tests: it stands still unless a test steps it, so the lock stays confirmed. */
public class StepTicker implements LockTicker {

    private final AtomicLong nanos = new AtomicLong();

    @Override
    public long nanoTime() {
        return nanos.get();
    }

    public void advance(Duration d) {
        nanos.addAndGet(d.toNanos());
    }
}
