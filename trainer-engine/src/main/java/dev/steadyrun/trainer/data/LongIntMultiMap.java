package dev.steadyrun.trainer.data;

import java.util.function.IntConsumer;

/**
 * Open-addressing multimap from long keys to int values (12 bytes a slot, at most half full): the LSH band
 * buckets. A key may appear in several slots, one per value; lookups walk the probe run to the first empty slot.
 */
final class LongIntMultiMap {

    private long[] keys = new long[1 << 12];
    private int[] values = new int[1 << 12];
    private int size;

    void put(long key, int value) {
        if (2 * (size + 1) > keys.length) {
            grow();
        }
        insert(keys, values, nonZero(key), value);
        size++;
    }

    void forEach(long key, IntConsumer action) {
        long k = nonZero(key);
        int mask = keys.length - 1;
        for (int i = (int) Hashing.mix64(k) & mask; keys[i] != 0; i = (i + 1) & mask) {
            if (keys[i] == k) {
                action.accept(values[i]);
            }
        }
    }

    long bytes() {
        return 12L * keys.length;
    }

    /** 0 marks an empty slot; moving key 0 onto 1 only adds a candidate that verification then rejects. */
    private static long nonZero(long key) {
        return key == 0 ? 1 : key;
    }

    private static void insert(long[] keys, int[] values, long key, int value) {
        int mask = keys.length - 1;
        int i = (int) Hashing.mix64(key) & mask;
        while (keys[i] != 0) {
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
    }

    private void grow() {
        long[] k2 = new long[keys.length * 2];
        int[] v2 = new int[keys.length * 2];
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0) {
                insert(k2, v2, keys[i], values[i]);
            }
        }
        keys = k2;
        values = v2;
    }
}
