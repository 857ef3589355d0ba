package dev.steadyrun.collectives;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/**
 * A float or double vector seen as elements to send, add into, or copy into. A frame's payload is sent from
 * {@link #outgoing} and read into {@link #incoming}; {@link #absorb} then adds or copies what landed in the staging
 * buffer (nothing when it landed in place).
 */
sealed interface Elements permits Elements.Floats, Elements.DirectFloats, Elements.Doubles {
    int length();

    int bytes();

    /** The payload bytes of [at, at + count): the data itself where it is direct, else encoded into staging. */
    ByteBuffer outgoing(ByteBuffer staging, int at, int count);

    /** Where the payload of [at, at + count) is to be read: the data itself for a direct copy, else staging. */
    default ByteBuffer incoming(ByteBuffer staging, int at, int count, boolean add) {
        return staging.clear().limit(count * bytes());
    }

    void absorb(ByteBuffer staging, int at, int count, boolean add);

    /** Floats on the heap: the channel would copy them through a temporary direct buffer anyway. */
    final class Floats implements Elements {
        private final float[] data;
        private final Scratch scratch;

        Floats(float[] data, Scratch scratch) {
            this.data = data;
            this.scratch = scratch;
        }

        public int length() {
            return data.length;
        }

        public int bytes() {
            return Float.BYTES;
        }

        public ByteBuffer outgoing(ByteBuffer staging, int at, int count) {
            staging.clear().asFloatBuffer().put(data, at, count);
            return staging.limit(count * Float.BYTES);
        }

        public void absorb(ByteBuffer staging, int at, int count, boolean add) {
            if (!add) {
                staging.asFloatBuffer().get(data, at, count);
                return;
            }
            FloatBuffer staged = staging.asFloatBuffer();
            float[] got = scratch.floats;
            for (int o = 0; o < count; o += Scratch.BLOCK) {
                int c = Math.min(Scratch.BLOCK, count - o);
                staged.get(o, got, 0, c);
                for (int i = 0, base = at + o; i < c; i++) {
                    data[base + i] += got[i];
                }
            }
        }
    }

    /** Native-order floats in a direct buffer: sent from and copied into in place. */
    final class DirectFloats implements Elements {
        private final ByteBuffer bytes;
        private final FloatBuffer data;
        private final Scratch scratch;

        DirectFloats(ByteBuffer floats, Scratch scratch) {
            this.scratch = scratch;
            if (!floats.isDirect() || floats.capacity() % Float.BYTES != 0) {
                throw new IllegalArgumentException("expected a direct buffer of floats, got " + floats);
            }
            // the wire is little-endian; native memory is sent as it is (every platform ND4J runs on is little-endian)
            if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                throw new UnsupportedOperationException("direct float buffers need a little-endian platform");
            }
            this.bytes = floats.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
            this.data = bytes.asFloatBuffer();
        }

        public int length() {
            return data.capacity();
        }

        public int bytes() {
            return Float.BYTES;
        }

        public ByteBuffer outgoing(ByteBuffer staging, int at, int count) {
            return bytes.slice(at * Float.BYTES, count * Float.BYTES);
        }

        public ByteBuffer incoming(ByteBuffer staging, int at, int count, boolean add) {
            return add ? staging.clear().limit(count * Float.BYTES) : bytes.slice(at * Float.BYTES, count * Float.BYTES);
        }

        public void absorb(ByteBuffer staging, int at, int count, boolean add) {
            if (!add) {
                return;
            }
            // bulk copies are memcpy and the loop over arrays vectorises: faster than element-wise buffer access
            FloatBuffer staged = staging.asFloatBuffer();
            float[] got = scratch.floats;
            float[] sum = scratch.sums;
            for (int o = 0; o < count; o += Scratch.BLOCK) {
                int c = Math.min(Scratch.BLOCK, count - o);
                staged.get(o, got, 0, c);
                data.get(at + o, sum, 0, c);
                for (int i = 0; i < c; i++) {
                    sum[i] += got[i];
                }
                data.put(at + o, sum, 0, c);
            }
        }
    }

    /** Doubles on the heap: small vectors (the step's agreed statistics), so no direct variant. */
    final class Doubles implements Elements {
        private final double[] data;
        private final Scratch scratch;

        Doubles(double[] data, Scratch scratch) {
            this.data = data;
            this.scratch = scratch;
        }

        public int length() {
            return data.length;
        }

        public int bytes() {
            return Double.BYTES;
        }

        public ByteBuffer outgoing(ByteBuffer staging, int at, int count) {
            staging.clear().asDoubleBuffer().put(data, at, count);
            return staging.limit(count * Double.BYTES);
        }

        public void absorb(ByteBuffer staging, int at, int count, boolean add) {
            if (!add) {
                staging.asDoubleBuffer().get(data, at, count);
                return;
            }
            DoubleBuffer staged = staging.asDoubleBuffer();
            double[] got = scratch.doubles;
            for (int o = 0; o < count; o += Scratch.BLOCK) {
                int c = Math.min(Scratch.BLOCK, count - o);
                staged.get(o, got, 0, c);
                for (int i = 0, base = at + o; i < c; i++) {
                    data[base + i] += got[i];
                }
            }
        }
    }

    /** One caller's scratch arrays: received sums are added in blocks this long, so they stay in the core's cache. */
    final class Scratch {
        static final int BLOCK = 4096;
        final float[] floats = new float[BLOCK];
        final float[] sums = new float[BLOCK];
        final double[] doubles = new double[BLOCK];
    }
}
