package dev.steadyrun.orchestrator.checkpoint;

/**
 * Which checkpoint a restart may restore, as its decision said: kept with the restart request, so that a retry after
 * a failed restore picks by the same rules (a divergence's rollback stays before its onset and healthy).
 *
 * @param onsetStep      for {@link Mode#BEFORE_DIVERGENCE}: the divergence's first bad step
 * @param divergenceKind for {@link Mode#BEFORE_DIVERGENCE}: the rule that fired (checkpoints whose restarts ended in
 *                       the same kind too often are passed over)
 * @param step           for {@link Mode#EXACT}: the checkpoint an operator chose
 */
public record RestoreRule(Mode mode, Long onsetStep, String divergenceKind, Long step) {

    public enum Mode {
        /** The newest usable checkpoint (a lost node, a crash, a hang): the failure says nothing about the model. */
        LATEST_USABLE,
        /** The newest healthy checkpoint at least the policy's margin before the onset of a divergence. */
        BEFORE_DIVERGENCE,
        /** The checkpoint an operator named; if it proves unusable, the newest usable one before it. */
        EXACT
    }

    public static final RestoreRule LATEST = new RestoreRule(Mode.LATEST_USABLE, null, null, null);

    public static RestoreRule beforeDivergence(long onsetStep, String divergenceKind) {
        return new RestoreRule(Mode.BEFORE_DIVERGENCE, onsetStep, divergenceKind, null);
    }

    public static RestoreRule exact(long step) {
        return new RestoreRule(Mode.EXACT, null, null, step);
    }
}
