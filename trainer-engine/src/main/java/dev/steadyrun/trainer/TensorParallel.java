package dev.steadyrun.trainer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.collectives.Collectives;

/**
 * A tensor-parallel group ({@link OptModel.TensorGroup}) over its own ring of the collectives transport: the ring's
 * members hold the slices of the same blocks. The ring's sum runs in a fixed order, so every member gets the same
 * bits and the replicated activations stay identical across the group.
 */
final class TensorParallel implements OptModel.TensorGroup {

    private final Collectives ring;

    TensorParallel(Collectives ring) {
        this.ring = ring;
    }

    @Override
    public int rank() {
        return ring.rank();
    }

    @Override
    public int size() {
        return ring.worldSize();
    }

    @Override
    public void allReduceSum(INDArray a) {
        if (ring.worldSize() == 1) {
            return;
        }
        if (a.dataType() == DataType.FLOAT && a.offset() == 0 && a.data().length() == a.length()) {
            // the whole buffer is the array (in either ordering: a sum is element by element): ND4J's memory goes
            // to the sockets and the sums come back into it, no copy
            ring.allReduceSum(a.data().asNio());
        } else {
            double[] values = a.dup('c').data().asDouble();
            ring.allReduceSum(values);
            a.assign(Nd4j.create(values, a.shape(), a.dataType()));
        }
    }
}
