package dev.steadyrun.agent.trainer;

import java.time.Duration;

/**
 * Warm restarts and hot spares (docs/agent.md): whether a trainer that declared the control channel is asked to leave
 * its generation and kept for the next one instead of being stopped, and whether an idle node keeps a standby trainer
 * of the built-in program.
 *
 * @param warmRestart ask a trainer to leave its generation (and keep it) instead of stopping it
 * @param hotSpare    keep a standby trainer of the built-in program while no generation runs here (with
 *                    {@code warmRestart} only: without it no trainer is given the control channel)
 * @param ackTimeout  a trainer asked to leave that has not acknowledged by then is stopped (the cold path)
 * @param keep        without hot spares, how long a trainer that left its generation waits for the next one
 */
public record WarmSettings(boolean warmRestart, boolean hotSpare, Duration ackTimeout, Duration keep) {

    /** Every trainer stopped and launched, no standby: the behaviour of trainers without the control channel. */
    public static final WarmSettings OFF = new WarmSettings(false, false, Duration.ofSeconds(30), Duration.ZERO);

    /** The same, without a hot spare: a trainer that left its generation is kept for {@code keep}, then stopped. */
    public WarmSettings withoutHotSpare() {
        return new WarmSettings(warmRestart, false, ackTimeout, keep);
    }
}
