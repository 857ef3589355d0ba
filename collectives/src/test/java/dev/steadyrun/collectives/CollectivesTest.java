package dev.steadyrun.collectives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CollectivesTest {
    /** Lengths not divisible by N, smaller than N, zero, and long enough to cross many 64-byte buckets. */
    private static final int[] LENGTHS = {0, 1, 2, 3, 5, 17, 1001};
    private static final int SMALL_BUCKET = 64;

    /** Integer-valued floats: every summation order gives the exact sum, so the reference is the plain loop. */
    private static float[] ints(int rank, int length, int salt) {
        float[] v = new float[length];
        for (int i = 0; i < length; i++) {
            v[i] = ((i * 31 + rank * 7 + salt) % 199) - 99;
        }
        return v;
    }

    private static float[] sumOfInts(int worldSize, int length, int salt) {
        float[] sum = new float[length];
        for (int r = 0; r < worldSize; r++) {
            float[] v = ints(r, length, salt);
            for (int i = 0; i < length; i++) {
                sum[i] += v[i];
            }
        }
        return sum;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void allReduceReduceScatterAndAllGatherMatchTheSequentialReference(int n) throws Exception {
        List<Boolean> done = TestRing.run(n, SMALL_BUCKET, c -> {
            for (int length : LENGTHS) {
                float[] data = ints(c.rank(), length, 1);
                c.allReduceSum(data);
                assertThat(data).as("allReduceSum N=%d length=%d", n, length).containsExactly(sumOfInts(n, length, 1));

                float[] scattered = ints(c.rank(), length, 2);
                c.reduceScatter(scattered);
                Collectives.Chunk mine = c.chunk(length, c.rank());
                float[] expected = sumOfInts(n, length, 2);
                for (int i = mine.from(); i < mine.to(); i++) {
                    assertThat(scattered[i]).as("reduceScatter N=%d length=%d index %d", n, length, i)
                            .isEqualTo(expected[i]);
                }

                // each rank contributes only its own chunk; the rest is garbage that must be overwritten
                float[] full = ints(99, length, 3);
                float[] gathered = new float[length];
                java.util.Arrays.fill(gathered, Float.NaN);
                System.arraycopy(full, mine.from(), gathered, mine.from(), mine.length());
                c.allGather(gathered);
                assertThat(gathered).as("allGather N=%d length=%d", n, length).containsExactly(full);
            }
            c.barrier();
            return true;
        });
        assertThat(done).hasSize(n).containsOnly(true);
    }

    /** Small buckets; and buckets longer than the addition's block, with chunks that end inside a block. */
    @ParameterizedTest
    @CsvSource({"2, 1024, 4099", "3, 1024, 4099", "4, 1024, 4099", "2, 65536, 40009", "3, 65536, 40009"})
    void randomFloatsGiveBitIdenticalResultsOnEveryRankAndTheRightSum(int n, int bucketBytes, int length)
            throws Exception {
        List<float[]> inputs = new java.util.ArrayList<>();
        double[] exact = new double[length];
        for (int r = 0; r < n; r++) {
            Random random = new Random(42 + r);
            float[] v = new float[length];
            for (int i = 0; i < length; i++) {
                v[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
                exact[i] += v[i];
            }
            inputs.add(v);
        }
        List<float[]> results = TestRing.run(n, bucketBytes, c -> {
            float[] data = inputs.get(c.rank()).clone();
            if (c.rank() % 2 == 0) {
                c.allReduceSum(data);
                return data;
            }
            // odd ranks: a direct buffer (no backing array), as an INDArray's data would be
            ByteBuffer direct = ByteBuffer.allocateDirect(length * Float.BYTES).order(ByteOrder.nativeOrder());
            direct.asFloatBuffer().put(data);
            c.allReduceSum(direct);
            direct.asFloatBuffer().get(data);
            return data;
        });
        for (int r = 1; r < n; r++) {
            for (int i = 0; i < length; i++) {
                assertThat(Float.floatToRawIntBits(results.get(r)[i])).as("rank %d index %d", r, i)
                        .isEqualTo(Float.floatToRawIntBits(results.get(0)[i]));
            }
        }
        for (int i = 0; i < length; i++) {
            double magnitude = 0;
            for (float[] v : inputs) {
                magnitude += Math.abs(v[i]);
            }
            assertThat((double) results.get(0)[i]).as("index %d", i)
                    .isCloseTo(exact[i], org.assertj.core.data.Offset.offset(magnitude * 1e-6 + 1e-30));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void doublesAllReduceAndBroadcast(int n) throws Exception {
        List<double[]> results = TestRing.run(n, SMALL_BUCKET, c -> {
            double[] data = new double[37];
            for (int i = 0; i < data.length; i++) {
                data[i] = 0.5 * i + c.rank();
            }
            c.allReduceSum(data);
            double[] fromRoot = new double[11];
            if (c.rank() == n - 1) {
                for (int i = 0; i < fromRoot.length; i++) {
                    fromRoot[i] = Math.PI * i;
                }
            }
            c.broadcast(fromRoot, n - 1);
            double[] both = new double[data.length + fromRoot.length];
            System.arraycopy(data, 0, both, 0, data.length);
            System.arraycopy(fromRoot, 0, both, data.length, fromRoot.length);
            return both;
        });
        double rankSum = n * (n - 1) / 2.0;
        for (double[] both : results) {
            for (int i = 0; i < 37; i++) {
                assertThat(both[i]).isEqualTo(n * 0.5 * i + rankSum);
            }
            for (int i = 0; i < 11; i++) {
                assertThat(both[37 + i]).isEqualTo(Math.PI * i);
            }
        }
    }

    /** ND4J's memory as the trainer hands it over: sent from and received into in place. */
    private static ByteBuffer direct(float[] values) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        return b;
    }

    private static float[] floats(ByteBuffer direct) {
        float[] v = new float[direct.capacity() / Float.BYTES];
        direct.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().get(v);
        return v;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void directBuffersReduceScatterGatherAndBroadcastInPlace(int n) throws Exception {
        List<Boolean> done = TestRing.run(n, SMALL_BUCKET, c -> {
            for (int length : LENGTHS) {
                Collectives.Chunk mine = c.chunk(length, c.rank());
                ByteBuffer scattered = direct(ints(c.rank(), length, 4));
                c.reduceScatter(scattered);
                float[] expected = sumOfInts(n, length, 4);
                float[] got = floats(scattered);
                for (int i = mine.from(); i < mine.to(); i++) {
                    assertThat(got[i]).as("reduceScatter N=%d length=%d index %d", n, length, i)
                            .isEqualTo(expected[i]);
                }

                float[] full = ints(77, length, 5);
                float[] mineOnly = new float[length];
                java.util.Arrays.fill(mineOnly, Float.NaN);
                System.arraycopy(full, mine.from(), mineOnly, mine.from(), mine.length());
                ByteBuffer gathered = direct(mineOnly);
                c.allGather(gathered);
                assertThat(floats(gathered)).as("allGather N=%d length=%d", n, length).containsExactly(full);

                ByteBuffer fromRoot = direct(c.rank() == 1 ? full : new float[length]);
                c.broadcast(fromRoot, 1);
                assertThat(floats(fromRoot)).as("broadcast N=%d length=%d", n, length).containsExactly(full);
            }
            return true;
        });
        assertThat(done).hasSize(n).containsOnly(true);
    }

    /**
     * A shift hands each rank's bytes to its successor unchanged, whatever they are (NaN patterns included) and
     * whatever their size per rank (rank r sends 4·(r·37 + 1) bytes, across many buckets).
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void shiftHandsEveryRanksBytesToItsSuccessorUnchanged(int n) throws Exception {
        List<Boolean> done = TestRing.run(n, SMALL_BUCKET, c -> {
            int pred = Math.floorMod(c.rank() - 1, n);
            ByteBuffer out = ByteBuffer.allocateDirect(bytesOf(c.rank()).length);
            out.put(bytesOf(c.rank())).clear();
            ByteBuffer in = ByteBuffer.allocateDirect(bytesOf(pred).length);
            c.shift(out, in);
            byte[] got = new byte[in.capacity()];
            in.duplicate().clear().get(got);
            assertThat(got).as("rank %d got rank %d's bytes", c.rank(), pred).containsExactly(bytesOf(pred));
            return true;
        });
        assertThat(done).hasSize(n).containsOnly(true);
    }

    private static byte[] bytesOf(int rank) {
        byte[] b = new byte[4 * (rank * 37 + 1)];
        new Random(rank).nextBytes(b);
        b[0] = (byte) 0xff;   // with the next three, a NaN with a payload: copied, never touched as a float
        b[1] = (byte) 0xff;
        b[2] = (byte) 0xc1;
        b[3] = (byte) 0x7f;
        return b;
    }

    @org.junit.jupiter.api.Test
    void aHeapByteBufferIsRefusedNotMisread() throws Exception {
        List<String> errors = TestRing.run(2, SMALL_BUCKET, c -> {
            try {
                c.allReduceSum(ByteBuffer.allocate(16));
                return "accepted";
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        });
        assertThat(errors).allSatisfy(m -> assertThat(m).startsWith("expected a direct buffer of floats"));
    }
}
