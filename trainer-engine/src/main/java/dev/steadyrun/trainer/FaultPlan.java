package dev.steadyrun.trainer;

/**
 * The test faults a run is launched with (the {@code debug*} config keys, see {@link TrainConfig}), kept out of the
 * step loop, which only asks the plan. They let the agent's and orchestrator's end-to-end tests make a real trainer
 * hang or diverge on cue.
 *
 * @param hangAtStep      the step before which the loop blocks for good (no more metrics; SIGTERM still ends it),
 *                        or -1
 * @param divergeAtStep   the schedule step from which the LR is multiplied by {@code divergeLrFactor}, or -1
 */
record FaultPlan(long hangAtStep, long divergeAtStep, double divergeLrFactor) {

    static FaultPlan of(TrainConfig config) {
        return new FaultPlan(config.debugHangAtStep(), config.debugDivergeAtStep(), config.debugDivergeLrFactor());
    }

    boolean hangsAt(long step) {
        return step == hangAtStep;
    }

    /** The factor on the scheduled LR of {@code step}: 1 unless the plan makes the run diverge from there. */
    double lrFactor(long step) {
        return divergeAtStep >= 0 && step >= divergeAtStep ? divergeLrFactor : 1.0;
    }
}
