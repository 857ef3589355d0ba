package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;
import dev.steadyrun.orchestrator.run.LadderRung;
import dev.steadyrun.orchestrator.checkpoint.CheckpointPicker;

/**
 * Decides what to do about an incident, from the run's recovery policy and its restart history. Pure: the caller
 * records the decision, picks the checkpoint ({@link CheckpointPicker}) and carries it out.
 */
public class RemediationLadder {

    public enum Incident {
        /** Loss divergence: climbs the policy's ladder of rollbacks. */
        DIVERGENCE,
        /** Node lost or a fatal GPU fault. */
        HARDWARE,
        /** A node cut off from its peers, still talking to the orchestrator. */
        PARTITION,
        /** The trainer exited with an infrastructure code (peer lost, our own stop, native crash). */
        INFRASTRUCTURE_CRASH,
        /** The trainer exited with a user-code failure. */
        USER_CODE_CRASH,
        /** Heartbeats go on but the step does not advance. */
        HANG,
        /** One rank stays much slower than the rest. */
        STRAGGLER
    }

    public enum Action { ROLLBACK_AND_RESTART, RESTART_FROM_LATEST, SWAP_NODE_AND_RESTART, PAUSE_AND_CALL_HUMAN, STOP_NO_PROGRESS }

    /**
     * @param divergenceRestarts     rollbacks already made for divergences in this run
     * @param budgetedRestarts       restarts already charged to the restart budget (user-code failures)
     * @param stepsGainedByRestarts  for each recent restart, oldest first, how many new steps the run made after it
     *                               before the next failure
     */
    public record History(int divergenceRestarts, int budgetedRestarts, List<Long> stepsGainedByRestarts) {

        public static final History NONE = new History(0, 0, List.of());

        public History {
            stepsGainedByRestarts = List.copyOf(stepsGainedByRestarts);
        }

        /** Restarts in a row, newest last, that gained no step. */
        int restartsWithoutProgress() {
            int n = 0;
            for (int i = stepsGainedByRestarts.size() - 1; i >= 0 && stepsGainedByRestarts.get(i) <= 0; i--) {
                n++;
            }
            return n;
        }
    }

    /**
     * @param knobs               what the trainer changes on restart ({@link RestartKnobs#NONE} when nothing)
     * @param consumesBudget      this restart is charged to the run's restart budget
     * @param backoff             how long to wait before restarting
     * @param reasons             why, in words, for the run's logbook
     */
    public record Decision(Action action, RestartKnobs knobs, boolean consumesBudget, Duration backoff,
                           List<String> reasons) {

        public Decision {
            reasons = List.copyOf(reasons);
        }

        public boolean restarts() {
            return action != Action.PAUSE_AND_CALL_HUMAN && action != Action.STOP_NO_PROGRESS;
        }
    }

    private final RecoveryPolicy policy;

    public RemediationLadder(RecoveryPolicy policy) {
        this.policy = policy;
    }

    public Decision decide(Incident incident, History history) {
        List<String> reasons = new ArrayList<>();
        reasons.add(describe(incident));
        int stalled = history.restartsWithoutProgress();
        if (stalled >= policy.noProgressRestarts()) {
            reasons.add("the last " + stalled + " restarts gained no step (limit " + policy.noProgressRestarts() + ")");
            return halt(Action.STOP_NO_PROGRESS, reasons);
        }
        return switch (incident) {
            case DIVERGENCE -> divergence(history, stalled, reasons);
            case USER_CODE_CRASH -> {
                if (history.budgetedRestarts() >= policy.restartBudget()) {
                    reasons.add("restart budget used up: " + history.budgetedRestarts() + " of " + policy.restartBudget());
                    yield halt(Action.PAUSE_AND_CALL_HUMAN, reasons);
                }
                reasons.add("restart " + (history.budgetedRestarts() + 1) + " of a budget of " + policy.restartBudget());
                yield restart(Action.RESTART_FROM_LATEST, RestartKnobs.NONE, true, stalled, reasons);
            }
            case HARDWARE, STRAGGLER -> {
                reasons.add("cordon the node, swap in a spare (or wait for one), restart every rank from the newest"
                        + " complete checkpoint; not charged to the restart budget");
                yield restart(Action.SWAP_NODE_AND_RESTART, RestartKnobs.NONE, false, stalled, reasons);
            }
            case PARTITION -> {
                reasons.add("move the node's rank to another node (a spare, or wait for one) and restart every rank"
                        + " from the newest complete checkpoint; the node is not cordoned (its network may heal);"
                        + " not charged to the restart budget");
                yield restart(Action.SWAP_NODE_AND_RESTART, RestartKnobs.NONE, false, stalled, reasons);
            }
            case INFRASTRUCTURE_CRASH, HANG -> {
                reasons.add("restart every rank from the newest complete checkpoint; not charged to the restart budget");
                yield restart(Action.RESTART_FROM_LATEST, RestartKnobs.NONE, false, stalled, reasons);
            }
        };
    }

    private Decision divergence(History history, int stalled, List<String> reasons) {
        List<LadderRung> ladder = policy.divergenceLadder();
        int n = history.divergenceRestarts();
        if (n >= ladder.size()) {
            reasons.add("divergence " + (n + 1) + " after " + ladder.size() + " rollbacks: the ladder is exhausted");
            return halt(Action.PAUSE_AND_CALL_HUMAN, reasons);
        }
        LadderRung rung = ladder.get(n);
        reasons.add("divergence " + (n + 1) + " of " + ladder.size() + ": roll back to a healthy checkpoint before the"
                + " onset" + describe(rung));
        // bounded by the ladder, not the restart budget: the budget is for crashes of the user's code
        return restart(Action.ROLLBACK_AND_RESTART, rung.knobs(), false, stalled, reasons);
    }

    private Decision restart(Action action, RestartKnobs knobs, boolean consumesBudget, int stalled,
                             List<String> reasons) {
        Duration backoff = backoff(stalled);
        reasons.add("wait " + backoff + " before restarting");
        return new Decision(action, knobs, consumesBudget, backoff, reasons);
    }

    private static Decision halt(Action action, List<String> reasons) {
        return new Decision(action, RestartKnobs.NONE, false, Duration.ZERO, reasons);
    }

    /** initial × 2^(restarts in a row without progress), capped; a restart that made progress resets it. */
    Duration backoff(int restartsWithoutProgress) {
        Duration max = policy.backoffMax();
        Duration d = policy.backoffInitial();
        for (int i = 0; i < restartsWithoutProgress && d.compareTo(max) < 0; i++) {
            d = d.multipliedBy(2);
        }
        return d.compareTo(max) > 0 ? max : d;
    }

    private static String describe(Incident incident) {
        return switch (incident) {
            case DIVERGENCE -> "the loss diverged";
            case HARDWARE -> "a node was lost or its GPU failed";
            case PARTITION -> "a node is cut off from its peers";
            case INFRASTRUCTURE_CRASH -> "the trainer exited on an infrastructure failure";
            case USER_CODE_CRASH -> "the trainer failed in user code";
            case HANG -> "the run hung: heartbeats continue but the step does not advance";
            case STRAGGLER -> "a rank is a persistent straggler";
        };
    }

    private static String describe(LadderRung rung) {
        StringBuilder s = new StringBuilder();
        if (rung.resetLossScaler()) {
            s.append(", reset the loss scaler");
        }
        if (rung.lrMultiplier() != 1.0) {
            s.append(", LR × ").append(rung.lrMultiplier());
        }
        if (rung.clipNorm() != null) {
            s.append(", clip gradients at ").append(rung.clipNorm());
        }
        if (rung.skipBatches() > 0) {
            s.append(", skip ").append(rung.skipBatches()).append(" batches");
        }
        return s.toString();
    }
}
