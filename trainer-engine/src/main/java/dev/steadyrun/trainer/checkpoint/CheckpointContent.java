package dev.steadyrun.trainer.checkpoint;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What one checkpoint holds: the named arrays (parameters, optimizer state) and the trainer's JSON state
 * (config, knob history, data cursor, loss scaler, seeds…), which the store keeps as opaque text.
 * The array map keeps its iteration order; a loaded checkpoint returns the arrays in the order they were written.
 */
public record CheckpointContent(long step, Map<String, INDArray> arrays, String stateJson) {

    public CheckpointContent {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
        if (arrays == null) {
            throw new IllegalArgumentException("arrays must not be null");
        }
        if (stateJson == null) {
            throw new IllegalArgumentException("stateJson must not be null");
        }
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            if (e.getKey() == null || e.getKey().isEmpty()) {
                throw new IllegalArgumentException("arrays: every array needs a non-empty name");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException("arrays[" + e.getKey() + "] must not be null");
            }
        }
        arrays = Collections.unmodifiableMap(new LinkedHashMap<>(arrays));
    }
}
