package dev.steadyrun.collectives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HierarchicalAllReduceTest {

    /**
     * M nodes × L ranks as threads, each in a node ring and a cross ring on 127.0.0.1. Lengths: not divisible by L
     * nor M·L; shorter than M·L (empty chunks in the cross rings); many buckets, and buckets longer than the
     * addition's 4096-element block.
     */
    @ParameterizedTest
    @CsvSource({"2, 2, 1024, 4099", "2, 2, 1024, 3", "3, 2, 1024, 4099", "3, 2, 1024, 5", "3, 2, 65536, 40009"})
    void sumsOverEveryRankOfEveryNodeWithTheSameBitsEverywhere(int nodes, int perNode, int bucketBytes, int length)
            throws Exception {
        int world = nodes * perNode;
        List<float[]> inputs = new ArrayList<>();
        double[] exact = new double[length];
        double[] magnitude = new double[length];
        for (int r = 0; r < world; r++) {
            // mixed magnitudes: rounding depends on the summation order, so identical bits are not a given
            Random random = new Random(7 + r);
            float[] v = new float[length];
            for (int i = 0; i < length; i++) {
                v[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
                exact[i] += v[i];
                magnitude[i] += Math.abs(v[i]);
            }
            inputs.add(v);
        }

        int[] nodePorts = new int[nodes];
        for (int m = 0; m < nodes; m++) {
            nodePorts[m] = TestRing.freePort();
        }
        int[] crossPorts = new int[perNode];
        for (int l = 0; l < perNode; l++) {
            crossPorts[l] = TestRing.freePort();
        }
        ExecutorService pool = Executors.newFixedThreadPool(world);
        List<float[]> results = new ArrayList<>();
        try {
            List<Future<float[]>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int m = r / perNode;
                int l = r % perNode;
                float[] input = inputs.get(r);
                ranks.add(pool.submit(() -> {
                    try (Collectives node = Rendezvous.join(TestRing.config(nodePorts[m], 1, l, perNode, bucketBytes));
                         Collectives cross = Rendezvous.join(TestRing.config(crossPorts[l], 1, m, nodes,
                                 bucketBytes))) {
                        ByteBuffer data = ByteBuffer.allocateDirect(length * Float.BYTES)
                                .order(ByteOrder.nativeOrder());
                        data.asFloatBuffer().put(input);
                        new HierarchicalAllReduce(node, cross).allReduceSum(data);
                        float[] out = new float[length];
                        data.asFloatBuffer().get(out);
                        return out;
                    }
                }));
            }
            for (Future<float[]> f : ranks) {
                results.add(f.get(30, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }

        for (int r = 1; r < world; r++) {
            for (int i = 0; i < length; i++) {
                assertThat(Float.floatToRawIntBits(results.get(r)[i])).as("rank %d index %d", r, i)
                        .isEqualTo(Float.floatToRawIntBits(results.get(0)[i]));
            }
        }
        for (int i = 0; i < length; i++) {
            assertThat((double) results.get(0)[i]).as("index %d", i)
                    .isCloseTo(exact[i], offset(magnitude[i] * 1e-6 + 1e-30));
        }
    }
}
