package dev.steadyrun.trainer.data;

/** Small, fast 64-bit hashing used for document identity, shingles and seeds. Not cryptographic. */
final class Hashing {

    private Hashing() {
    }

    /** The SplitMix64 / MurmurHash3 finalizer: a bijection of 64-bit values with good avalanche. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** 64-bit hash of {@code s[from, to)}: 4 chars per multiply round, then finalized. */
    static long hash(CharSequence s, int from, int to, long seed) {
        long h = seed ^ ((to - from) * 0x9E3779B97F4A7C15L);
        int i = from;
        for (; i + 3 < to; i += 4) {
            long block = s.charAt(i) | ((long) s.charAt(i + 1) << 16) | ((long) s.charAt(i + 2) << 32)
                    | ((long) s.charAt(i + 3) << 48);
            h = Long.rotateLeft(h ^ mix64(block), 27) * 0x9E3779B97F4A7C15L + 0x52DCE729L;
        }
        for (; i < to; i++) {
            h = Long.rotateLeft(h ^ (s.charAt(i) * 0xC2B2AE3D27D4EB4FL), 31) * 0x9E3779B97F4A7C15L;
        }
        return mix64(h);
    }

    static long hash(CharSequence s) {
        return hash(s, 0, s.length(), 0);
    }

    /** A uniform double in [0, 1) from a hash. */
    static double unit(long h) {
        return (h >>> 11) * 0x1.0p-53;
    }
}
