package dev.steadyrun.sdk;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * A {@link SameDiff} graph under a {@link TrainingSession} ({@link ModelAdapter}). A batch is the graph's
 * placeholder values by name.
 *
 * <p>The gradient is SameDiff's own ({@link SameDiff#calculateGradientsAndOutputs}, of the graph's loss variables
 * with respect to every trainable variable). The update is not SameDiff's {@code fit}: it has no place for a global
 * clipping norm or a learning-rate ratio, and its updater state lives in SameDiff's internal training session. The
 * adapter instead copies the variables' gradients into one flat array, and applies an ND4J updater ({@link IUpdater}:
 * the same {@code Adam}, {@code Nesterovs}, ... that SameDiff's {@code TrainingConfig} takes and that DL4J runs) to
 * that array with a state array the adapter owns and checkpoints. ND4J's updaters work element by element, so one
 * updater over the concatenation updates each variable as one updater per variable would.
 *
 * <p>A checkpoint holds every trainable variable ({@code variable/<name>}), the updater state ({@code updater}) and
 * the counters (iteration, epoch).
 */
public final class SameDiffAdapter extends ModelAdapter<Map<String, INDArray>> {

    static final String VARIABLE = "variable/";
    static final String UPDATER = "updater";

    private final SameDiff sd;
    private final List<String> losses;
    private final List<SDVariable> variables;
    private final List<String> names;
    private final List<INDArray> slices = new ArrayList<>();
    private final INDArray flatGradient;
    private final INDArray updaterState;
    private final GradientUpdater<?> updater;
    private int iteration;
    private int epoch;

    /**
     * @param sd      a graph with its loss variables set (SameDiff's loss functions set them) and its trainable
     *                variables ({@link VariableType#VARIABLE}) initialized, all of one floating-point type
     * @param updater the optimizer, with the learning rate the session's ratio refers to
     */
    public SameDiffAdapter(SameDiff sd, IUpdater updater) {
        this.sd = sd;
        losses = List.copyOf(sd.getLossVariables());
        if (losses.isEmpty()) {
            throw new IllegalArgumentException("the SameDiff graph has no loss variable (setLossVariables)");
        }
        variables = sd.variables().stream().filter(v -> v.getVariableType() == VariableType.VARIABLE).toList();
        if (variables.isEmpty()) {
            throw new IllegalArgumentException("the SameDiff graph has no trainable variable");
        }
        names = variables.stream().map(SDVariable::name).toList();
        DataType type = variables.get(0).getArr().dataType();
        long n = 0;
        for (SDVariable v : variables) {
            if (v.getArr().dataType() != type || !type.isFPType()) {
                throw new IllegalArgumentException("variable " + v.name() + " is " + v.getArr().dataType()
                        + ": the trainable variables must share one floating-point type (" + type + ")");
            }
            n += v.getArr().length();
        }
        flatGradient = Nd4j.create(type, 1, n);
        long offset = 0;
        for (SDVariable v : variables) {
            long length = v.getArr().length();
            slices.add(flatGradient.get(NDArrayIndex.point(0), NDArrayIndex.interval(offset, offset + length)));
            offset += length;
        }
        long stateSize = updater.stateSize(n);
        updaterState = stateSize == 0 ? null : Nd4j.create(type, 1, stateSize);
        this.updater = updater.instantiate(updaterState, true);
    }

    /** The loss (the sum of the graph's loss variables) on {@code placeholders}, and its gradient. */
    @Override
    public double computeGradient(Map<String, INDArray> placeholders) {
        OutAndGrad r = sd.calculateGradientsAndOutputs(placeholders, losses, names);
        double loss = 0;
        for (String l : losses) {
            loss += r.getOutputs().get(l).sumNumber().doubleValue();
        }
        for (int i = 0; i < variables.size(); i++) {
            INDArray g = r.getGradients().get(names.get(i));
            if (g == null) { // the loss does not depend on this variable
                slices.get(i).assign(0);
            } else {
                slices.get(i).assign(g.reshape('c', new long[] {g.length()}));
            }
        }
        return loss;
    }

    @Override
    public INDArray gradient() {
        return flatGradient;
    }

    @Override
    void toUpdate(INDArray gradient) {
        updater.applyUpdater(gradient, iteration, epoch);
    }

    @Override
    void subtract(INDArray update) {
        for (int i = 0; i < variables.size(); i++) {
            INDArray arr = variables.get(i).getArr();
            arr.subi(slices.get(i).reshape('c', arr.shape()));
        }
        iteration++;
    }

    /** Every trainable variable by name, and the updater state (none for plain SGD). */
    @Override
    public Map<String, INDArray> arrays() {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        for (SDVariable v : variables) {
            arrays.put(VARIABLE + v.name(), v.getArr());
        }
        if (updaterState != null) {
            arrays.put(UPDATER, updaterState);
        }
        return arrays;
    }

    @Override
    int iteration() {
        return iteration;
    }

    @Override
    int epoch() {
        return epoch;
    }

    @Override
    void setCounters(int iteration, int epoch) {
        this.iteration = iteration;
        this.epoch = epoch;
    }
}
