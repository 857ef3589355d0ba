package dev.steadyrun.trainer.data;

/** Open-addressing set of longs (8 bytes a slot, at most half full): the exact-duplicate index. */
final class LongSet {

    private long[] slots = new long[1 << 12];
    private boolean hasZero;
    private int size;

    /** Adds {@code v}; false when it was already present. */
    boolean add(long v) {
        if (v == 0) {
            boolean added = !hasZero;
            hasZero = true;
            size += added ? 1 : 0;
            return added;
        }
        if (2 * (size + 1) > slots.length) {
            grow();
        }
        if (!insert(slots, v)) {
            return false;
        }
        size++;
        return true;
    }

    int size() {
        return size;
    }

    long bytes() {
        return 8L * slots.length;
    }

    private static boolean insert(long[] table, long v) {
        int mask = table.length - 1;
        int i = (int) Hashing.mix64(v) & mask;
        while (table[i] != 0) {
            if (table[i] == v) {
                return false;
            }
            i = (i + 1) & mask;
        }
        table[i] = v;
        return true;
    }

    private void grow() {
        long[] bigger = new long[slots.length * 2];
        for (long v : slots) {
            if (v != 0) {
                insert(bigger, v);
            }
        }
        slots = bigger;
    }
}
