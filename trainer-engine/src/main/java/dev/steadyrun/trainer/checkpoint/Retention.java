package dev.steadyrun.trainer.checkpoint;

/**
 * Which complete checkpoints survive a write: the newest {@code keepLast}, and every one whose
 * {@code step % keepEvery == 0} (keepEvery 0 turns that off). Everything else is deleted.
 */
public record Retention(int keepLast, long keepEvery) {

    public Retention {
        if (keepLast < 1) {
            throw new IllegalArgumentException("keepLast must be >= 1 (the newest checkpoint is always kept), got "
                    + keepLast);
        }
        if (keepEvery < 0) {
            throw new IllegalArgumentException("keepEvery must be >= 0 (0 = off), got " + keepEvery);
        }
    }

    boolean keeps(long step, int rankFromNewest) {
        return rankFromNewest < keepLast || (keepEvery > 0 && step % keepEvery == 0);
    }
}
