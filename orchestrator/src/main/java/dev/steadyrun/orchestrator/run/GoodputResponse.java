package dev.steadyrun.orchestrator.run;

import java.time.Instant;
import java.util.UUID;

/**
 * Where a run's wall time since its first placement went ({@link GoodputLedger}); the five parts sum to
 * {@code wallSeconds}.
 *
 * @param from                    the first placement
 * @param to                      now, or when the run ended
 * @param productiveSeconds       training whose steps still count toward the run's progress
 * @param lostWorkSeconds         training whose steps a later generation threw away (it restored from before them)
 * @param restartSeconds          stopping a generation and starting the next, up to its first step (the first
 *                                generation's start-up too)
 * @param waitingForNodesSeconds  pending: no gang of nodes was placeable
 * @param pausedSeconds           pausing, paused or cancelling (an operator's or a human's decision)
 * @param goodput                 productive ÷ wall; null when no wall time has passed
 */
public record GoodputResponse(UUID runId, Instant from, Instant to, double wallSeconds, double productiveSeconds,
                              double lostWorkSeconds, double restartSeconds, double waitingForNodesSeconds,
                              double pausedSeconds, Double goodput) {
}
