package dev.steadyrun.orchestrator.database;

/**
 * The orchestrator lock's time source: monotonic ({@code System::nanoTime}) in production, so that a wall-clock jump
 * neither ends nor stretches the lock's confirmation; tests step it. Never the application's Clock, which tests move
 * by hours at a time.
 */
@FunctionalInterface
public interface LockTicker {

    long nanoTime();
}
