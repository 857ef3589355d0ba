package dev.steadyrun.trainer.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The sorted shingle-hash sets of kept documents, so that near-duplicate candidates are decided by exact Jaccard.
 * Sets are packed back to back into pages of longs (a set longer than a page gets a page of its own), so memory is
 * 8 bytes per distinct shingle plus 12 bytes per document, with no per-array object overhead.
 */
final class ShingleSets {

    private static final int PAGE_LONGS = 1 << 20;   // 8 MiB

    private final List<long[]> pages = new ArrayList<>();
    private int pageFill = PAGE_LONGS;
    private int[] page = new int[1024];
    private int[] offset = new int[1024];
    private int[] length = new int[1024];
    private int size;
    private long bytes;

    /** Stores {@code set} (sorted, distinct) as the next id, counting from 0. */
    int add(long[] set) {
        if (size == page.length) {
            page = Arrays.copyOf(page, size * 2);
            offset = Arrays.copyOf(offset, size * 2);
            length = Arrays.copyOf(length, size * 2);
        }
        if (pageFill + set.length > PAGE_LONGS || pages.isEmpty()) {
            long[] p = new long[Math.max(PAGE_LONGS, set.length)];
            pages.add(p);
            bytes += 8L * p.length;
            pageFill = 0;
        }
        System.arraycopy(set, 0, pages.get(pages.size() - 1), pageFill, set.length);
        page[size] = pages.size() - 1;
        offset[size] = pageFill;
        length[size] = set.length;
        pageFill += set.length;
        return size++;
    }

    /**
     * Whether the exact Jaccard similarity of {@code set} and stored set {@code id} is at least {@code threshold},
     * computed as {@link Shingles#jaccard} computes it, so the decision is the same to the last bit. Stops early
     * once the intersection can no longer be large enough (Jaccard grows with it for fixed set sizes).
     */
    boolean similar(long[] set, int id, double threshold) {
        long[] b = pages.get(page[id]);
        int from = offset[id];
        int bn = length[id];
        int an = set.length;
        // |A ∩ B| / |A ∪ B| <= min / max: most candidates that are not duplicates fail on size alone
        if (Math.min(an, bn) < threshold * Math.max(an, bn)) {
            return false;
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

    /** Bytes held: the pages (8 per shingle, the last one partly filled) and 12 per document. */
    long bytes() {
        return bytes + 12L * page.length;
    }

    private static double jaccard(int inter, int an, int bn) {
        int union = an + bn - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }
}
