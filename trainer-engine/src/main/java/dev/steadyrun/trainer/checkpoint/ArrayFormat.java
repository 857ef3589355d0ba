package dev.steadyrun.trainer.checkpoint;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The raw array file (".arr"), all integers little-endian:
 * <pre>
 *   8 bytes   magic "SRARRAY1"
 *   int32     n, then n ASCII bytes: the ND4J data type name (FLOAT, DOUBLE, HALF, …)
 *   int32     rank r, then r × int64: the shape (r = 0 for a scalar)
 *   elements  product(shape) × width bytes, row-major (C order), little-endian, copied byte for byte
 * </pre>
 * The element bytes are the native buffer's bytes, never converted through Java floats, so the round trip is
 * bit-exact for every type (NaN payloads included).
 */
final class ArrayFormat {

    static final String SUFFIX = ".arr";
    private static final byte[] MAGIC = "SRARRAY1".getBytes(StandardCharsets.US_ASCII);
    private static final int CHUNK = 1 << 20;

    static {
        // Element bytes are copied from native memory as they are; every platform ND4J ships for is little-endian.
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalStateException("checkpoint arrays need a little-endian platform");
        }
    }

    private ArrayFormat() {
    }

    /** A contiguous row-major copy outside any workspace, safe to hand to another thread. */
    static INDArray detachedCopy(INDArray array) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return array.dup('c');
        }
    }

    /**
     * {@link #detachedCopy} of a 1-D vector or a contiguous range of one (a shard of a flat vector) by one bulk copy
     * of its native bytes: the training loop waits for this copy at every checkpoint, and ND4J's general copy of a
     * view is several times slower.
     */
    static INDArray flatCopy(INDArray vector) {
        if (vector.rank() != 1 || vector.elementWiseStride() != 1 || vector.length() == 0
                || (vector.offset() + vector.length()) * vector.dataType().width() > Integer.MAX_VALUE) {
            return detachedCopy(vector);
        }
        int width = vector.dataType().width();
        INDArray out;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            out = Nd4j.createUninitialized(vector.dataType(), new long[]{vector.length()}, 'c');
        }
        ByteBuffer from = vector.data().asNio().duplicate();
        from.limit((int) ((vector.offset() + vector.length()) * width)).position((int) (vector.offset() * width));
        out.data().asNio().duplicate().clear().put(from);
        return out;
    }

    /** Writes the array (contiguous, row-major, offset 0: see {@link #detachedCopy}), updating the digest. */
    static long write(INDArray array, FileChannel out, MessageDigest digest) throws IOException {
        long dataBytes = array.length() * array.dataType().width();
        if (dataBytes > Integer.MAX_VALUE) {
            throw new IOException("array of " + dataBytes + " bytes is over the 2 GiB a checkpoint array file holds");
        }
        ByteBuffer header = header(array.dataType(), array.shape());
        long written = writeFully(out, header, digest);
        if (dataBytes > 0) {
            ByteBuffer data = array.data().asNio().order(ByteOrder.LITTLE_ENDIAN);
            data.limit((int) dataBytes).position(0);
            written += writeFully(out, data, digest);
        }
        return written;
    }

    private static ByteBuffer header(DataType dtype, long[] shape) {
        byte[] name = dtype.name().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 4 + name.length + 4 + 8 * shape.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(name.length).put(name).putInt(shape.length);
        for (long d : shape) {
            b.putLong(d);
        }
        return b.flip();
    }

    /**
     * Reads the array file described by {@code entry}, updating the digest with every byte read. The caller has
     * checked the file's size and checks the digest afterwards.
     */
    static INDArray read(FileChannel in, Path checkpoint, Manifest.Entry entry, MessageDigest digest)
            throws IOException {
        DataType dtype;
        try {
            dtype = DataType.valueOf(entry.dtype());
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new CorruptCheckpointException(checkpoint, Manifest.FILE,
                    "unknown dtype " + entry.dtype() + " for " + entry.name());
        }
        long[] shape = entry.shape() == null ? new long[0] : entry.shape();
        ByteBuffer expected = header(dtype, shape);
        long dataBytes = dataBytes(dtype, shape);
        if (dataBytes < 0 || dataBytes > Integer.MAX_VALUE || expected.remaining() + dataBytes != entry.bytes()) {
            throw new CorruptCheckpointException(checkpoint, Manifest.FILE, "dtype " + dtype + " and shape "
                    + Arrays.toString(shape) + " of " + entry.name() + " do not add up to its " + entry.bytes()
                    + " bytes");
        }
        ByteBuffer actual = ByteBuffer.allocate(expected.remaining());
        readFully(in, actual, digest);
        if (!actual.flip().equals(expected)) {
            throw new CorruptCheckpointException(checkpoint, entry.name(),
                    "header does not match the manifest's dtype " + dtype + " and shape " + Arrays.toString(shape));
        }
        INDArray array;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            array = Nd4j.createUninitialized(dtype, shape, 'c');
        }
        if (dataBytes > 0) {
            ByteBuffer data = array.data().asNio();
            data.limit((int) dataBytes).position(0);
            readFully(in, data, digest);
        }
        return array;
    }

    /** The element bytes of an array of this dtype and shape; -1 for a negative or overflowing shape. */
    private static long dataBytes(DataType dtype, long[] shape) {
        try {
            long elements = 1;
            for (long d : shape) {
                if (d < 0) {
                    return -1;
                }
                elements = Math.multiplyExact(elements, d);
            }
            return Math.multiplyExact(elements, dtype.width());
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    private static long writeFully(FileChannel out, ByteBuffer buffer, MessageDigest digest) throws IOException {
        long total = 0;
        while (buffer.hasRemaining()) {
            ByteBuffer chunk = buffer.slice();
            chunk.limit(Math.min(CHUNK, chunk.remaining()));
            digest.update(chunk.duplicate());
            while (chunk.hasRemaining()) {
                total += out.write(chunk);
            }
            buffer.position(buffer.position() + chunk.limit());
        }
        return total;
    }

    private static void readFully(FileChannel in, ByteBuffer buffer, MessageDigest digest) throws IOException {
        while (buffer.hasRemaining()) {
            int start = buffer.position();
            int n = in.read(buffer);
            if (n < 0) {
                throw new EOFException("file ends early");
            }
            digest.update(buffer.duplicate().position(start).limit(start + n));
        }
    }
}
