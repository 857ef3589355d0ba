package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The sorted shingle-hash sets of kept documents, so that near-duplicate candidates are decided by exact Jaccard.
 * Sets are packed back to back into pages of longs (a set longer than a page gets a page of its own): 8 bytes per
 * distinct shingle plus 12 bytes per document, with no per-array object overhead. Once the pages would exceed
 * {@code memoryBudget} bytes, further sets are appended to a temporary file (deleted on {@link #close}) and read
 * back by position when a candidate needs them; the sets are append-only, so nothing is ever rewritten.
 */
final class ShingleSets implements AutoCloseable {

    private static final int PAGE_LONGS = 1 << 20;   // 8 MiB

    private final long memoryBudget;
    private final List<long[]> pages = new ArrayList<>();
    private int pageFill = PAGE_LONGS;
    /** In memory: page index << 32 | offset; spilled: -1 - file position (in bytes). */
    private long[] location = new long[1024];
    private int[] length = new int[1024];
    private int size;
    private long bytes;
    private FileChannel spill;
    private long spillBytes;
    private final ByteBuffer io = ByteBuffer.allocate(1 << 16);
    private long[] scratch = new long[1 << 13];

    ShingleSets(long memoryBudget) {
        this.memoryBudget = memoryBudget;
    }

    /** Stores {@code set} (sorted, distinct) as the next id, counting from 0. */
    int add(long[] set) {
        if (size == location.length) {
            location = Arrays.copyOf(location, size * 2);
            length = Arrays.copyOf(length, size * 2);
        }
        length[size] = set.length;
        if (pageFill + set.length <= PAGE_LONGS && !pages.isEmpty()) {
            location[size] = (long) (pages.size() - 1) << 32 | pageFill;
        } else if (bytes + 8L * Math.max(PAGE_LONGS, set.length) <= memoryBudget) {
            long[] p = new long[Math.max(PAGE_LONGS, set.length)];
            pages.add(p);
            bytes += 8L * p.length;
            pageFill = 0;
            location[size] = (long) (pages.size() - 1) << 32;
        } else {
            location[size] = -1 - spillBytes;
            write(set);
            return size++;
        }
        System.arraycopy(set, 0, pages.get(pages.size() - 1), pageFill, set.length);
        pageFill += set.length;
        return size++;
    }

    /**
     * Whether the exact Jaccard similarity of {@code set} and stored set {@code id} is at least {@code threshold},
     * computed as {@link Shingles#jaccard} computes it, so the decision is the same to the last bit. Stops early
     * once the intersection can no longer be large enough (Jaccard grows with it for fixed set sizes).
     */
    boolean similar(long[] set, int id, double threshold) {
        int bn = length[id];
        int an = set.length;
        // |A ∩ B| <= min(|A|, |B|): most candidates that are not duplicates fail on size alone (same formula as
        // below, so rounding cannot make this bound disagree with the final comparison)
        if (jaccard(Math.min(an, bn), an, bn) < threshold) {
            return false;
        }
        long where = location[id];
        long[] b;
        int from;
        if (where >= 0) {
            b = pages.get((int) (where >>> 32));
            from = (int) where;
        } else {
            b = read(-1 - where, bn);
            from = 0;
        }
        int i = 0;
        int j = 0;
        int inter = 0;
        while (i < an && j < bn) {
            long x = set[i];
            long y = b[from + j];
            if (x == y) {
                inter++;
                i++;
                j++;
            } else {
                if (x < y) {
                    i++;
                } else {
                    j++;
                }
                int best = inter + Math.min(an - i, bn - j);
                if (jaccard(best, an, bn) < threshold) {
                    return false;
                }
            }
        }
        return jaccard(inter, an, bn) >= threshold;
    }

    int size() {
        return size;
    }

    /** Bytes held in memory: the pages (8 per shingle, the last one partly filled) and 12 per document. */
    long bytes() {
        return bytes + 12L * location.length;
    }

    /** Bytes written to the spill file. */
    long spilledBytes() {
        return spillBytes;
    }

    @Override
    public void close() {
        if (spill != null) {
            try {
                spill.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private void write(long[] set) {
        try {
            if (spill == null) {
                spill = FileChannel.open(Files.createTempFile("steadyrun-shingles", ".bin"),
                        StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE);
            }
            int i = 0;
            while (i < set.length) {
                io.clear();
                int n = Math.min(set.length - i, io.capacity() / 8);
                io.asLongBuffer().put(set, i, n);
                io.limit(8 * n);
                while (io.hasRemaining()) {
                    spillBytes += spill.write(io, spillBytes);
                }
                i += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot spill shingle sets to a temporary file", e);
        }
    }

    private long[] read(long position, int n) {
        if (scratch.length < n) {
            scratch = new long[Math.max(n, scratch.length * 2)];
        }
        try {
            int i = 0;
            while (i < n) {
                io.clear();
                io.limit(8 * Math.min(n - i, io.capacity() / 8));
                long at = position + 8L * i;
                while (io.hasRemaining()) {
                    int r = spill.read(io, at + io.position());
                    if (r < 0) {
                        throw new IOException("spill file ends early");
                    }
                }
                io.flip();
                int got = io.remaining() / 8;
                io.asLongBuffer().get(scratch, i, got);
                i += got;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read spilled shingle sets", e);
        }
        return scratch;
    }

    private static double jaccard(int inter, int an, int bn) {
        int union = an + bn - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }
}
