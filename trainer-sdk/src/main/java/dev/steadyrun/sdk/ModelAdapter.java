package dev.steadyrun.sdk;

import java.util.Map;
import java.util.function.LongFunction;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model under a {@link TrainingSession}: one optimizer step with the knobs applied, and the arrays and counters a
 * checkpoint needs for an exact resume. {@link MultiLayerNetworkAdapter}, {@link ComputationGraphAdapter} and
 * {@link SameDiffAdapter} are the implementations.
 *
 * <p>A step comes in two halves so that a caller can act on the gradient between them (data parallelism all-reduces
 * it there): {@link #computeGradient} leaves the batch's gradient in the one flat array {@link #gradient()}, and
 * {@link #apply} measures that array's global L2 norm, clips it to the session's threshold, lets the model's updater
 * (Adam, ...) turn it into the update, scales the update by the ratio of the session's learning rate to the
 * configured one (the updaters ND4J ships scale their update linearly with the learning rate) and subtracts it from
 * the parameters. {@link #step} is both halves.
 *
 * @param <B> what one batch is for this kind of model
 */
public abstract class ModelAdapter<B> {

    /** What one step measured: the batch's loss and the gradient's global L2 norm before clipping. */
    public record Step(double loss, double gradNorm) {
    }

    ModelAdapter() { // the three adapters of this package only: apply() relies on how each one's updater works
    }

    /**
     * One optimizer step on {@code batch}.
     *
     * @param clipNorm the global-norm clipping threshold, 0 for none
     * @param lrFactor the session's learning rate divided by the one the model's updater was configured with
     */
    public final Step step(B batch, double clipNorm, double lrFactor) {
        double loss = computeGradient(batch);
        return new Step(loss, apply(clipNorm, lrFactor));
    }

    /**
     * The usual training loop: loads the session's restored checkpoint, if any, into the model; then, while the
     * session runs, one {@link #step} on {@code batches.apply(session.dataCursor())} with the session's learning
     * rate and clipping threshold (knobs applied), its step line, and a checkpoint of {@link #arrays()} and
     * {@link #counters()} whenever one is due. A program with its own loop calls the same methods itself.
     *
     * @param batches       batch number {@code n} of the data, the same batch for the same {@code n} in every launch
     * @param lr            the learning rate the model's updater was configured with
     * @param clipNorm      the configured clipping threshold (0: none), unless a knob replaces it
     * @param tokensPerStep what one batch counts for in the step line's {@code tokensSeen}
     */
    public final void train(TrainingSession session, LongFunction<B> batches, double lr, double clipNorm,
                            long tokensPerStep) throws Exception {
        if (session.restored() != null) {
            restore(session.restored().arrays(), session.restored().userState());
        }
        while (session.running()) {
            double applied = session.lr(lr, lr);
            double clip = session.clipNorm(clipNorm);
            Step step = step(batches.apply(session.dataCursor()), clip, applied / lr);
            session.stepDone(step.loss(), step.gradNorm(), applied, clip, tokensPerStep);
            if (session.checkpointDue()) {
                session.checkpoint(arrays(), counters());
            }
        }
    }

    /** The first half of a step: the loss on {@code batch}, with its gradient left in {@link #gradient()}. */
    public abstract double computeGradient(B batch);

    /**
     * The gradient of the last {@link #computeGradient}: one flat array over every trainable parameter, which the
     * caller may change in place before {@link #apply} (it is the array the update is made from).
     */
    public abstract INDArray gradient();

    /**
     * The second half of a step: clipping, the updater, the learning-rate ratio and the parameter update, from
     * {@link #gradient()} as it is now; advances the iteration count.
     *
     * @return the gradient's global L2 norm before clipping
     */
    public final double apply(double clipNorm, double lrFactor) {
        INDArray flat = gradient();
        double norm = flat.norm2Number().doubleValue();
        if (clipNorm > 0 && norm > clipNorm) {
            flat.muli(clipNorm / norm);
        }
        toUpdate(flat);
        if (lrFactor != 1.0) {
            flat.muli(lrFactor);
        }
        subtract(flat);
        return norm;
    }

    /** Lets the updater turn the (clipped) gradient into the update, in place, at the current iteration. */
    abstract void toUpdate(INDArray gradient);

    /** Subtracts the update from the parameters and counts the iteration. */
    abstract void subtract(INDArray update);

    /** The arrays of a checkpoint: the parameters and the updater's state, by name. */
    public abstract Map<String, INDArray> arrays();

    /** The counters of a checkpoint, as the program's state text: {@code "<iteration> <epoch>"}. */
    public final String counters() {
        return iteration() + " " + epoch();
    }

    /** Optimizer steps taken (the updater's bias correction and schedules read it). */
    abstract int iteration();

    abstract int epoch();

    abstract void setCounters(int iteration, int epoch);

    /**
     * Loads a checkpoint's {@link #arrays()} and {@link #counters()} into the model.
     *
     * @throws IllegalArgumentException when they do not fit this model (a changed architecture or updater)
     */
    public final void restore(Map<String, INDArray> saved, String counters) {
        Map<String, INDArray> arrays = arrays();
        if (!saved.keySet().equals(arrays.keySet())) {
            throw new IllegalArgumentException("the checkpoint holds " + saved.keySet() + ", this model "
                    + arrays.keySet());
        }
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            INDArray from = saved.get(e.getKey());
            INDArray to = e.getValue();
            if (from.length() != to.length()) {
                throw new IllegalArgumentException("the checkpoint's " + e.getKey() + " has " + from.length()
                        + " values, this model's " + to.length());
            }
            to.assign(from.reshape(to.ordering(), to.shape()));
        }
        String[] c = counters.strip().split(" ");
        setCounters(Integer.parseInt(c[0]), Integer.parseInt(c[1]));
    }
}
