package dev.steadyrun.trainer.data;

import java.util.Arrays;

/**
 * Word shingles for near-duplicate detection: the document is split on whitespace into lower-cased words
 * (punctuation stays attached), and every run of {@code k} consecutive words is hashed to 64 bits. A document of
 * fewer than {@code k} words has one shingle, of all its words.
 */
final class Shingles {

    private Shingles() {
    }

    /** Shingle hashes in document order, repeats included. */
    static long[] of(String text, int k) {
        long[] words = new long[16];
        int count = 0;
        int n = text.length();
        int i = 0;
        while (i < n) {
            while (i < n && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i == n) {
                break;
            }
            long h = 0x243F6A8885A308D3L;
            while (i < n && !Character.isWhitespace(text.charAt(i))) {
                h = (h ^ Character.toLowerCase(text.charAt(i))) * 0x100000001B3L;
                i++;
            }
            if (count == words.length) {
                words = Arrays.copyOf(words, count * 2);
            }
            words[count++] = Hashing.mix64(h);
        }
        int m = Math.max(1, count - k + 1);
        long[] shingles = new long[count == 0 ? 0 : m];
        for (int s = 0; s < shingles.length; s++) {
            long h = 0;
            for (int j = s; j < Math.min(count, s + k); j++) {
                h = h * 0x9E3779B97F4A7C15L + words[j];
            }
            shingles[s] = Hashing.mix64(h);
        }
        return shingles;
    }

    /** Sorted distinct shingle hashes: the set that exact Jaccard similarity is defined on. */
    static long[] set(String text, int k) {
        long[] s = of(text, k);
        Arrays.sort(s);
        int u = 0;
        for (int i = 0; i < s.length; i++) {
            if (i == 0 || s[i] != s[i - 1]) {
                s[u++] = s[i];
            }
        }
        return Arrays.copyOf(s, u);
    }

    /** Exact Jaccard similarity of two {@link #set}s. */
    static double jaccard(long[] a, long[] b) {
        int i = 0;
        int j = 0;
        int inter = 0;
        while (i < a.length && j < b.length) {
            if (a[i] == b[j]) {
                inter++;
                i++;
                j++;
            } else if (a[i] < b[j]) {
                i++;
            } else {
                j++;
            }
        }
        int union = a.length + b.length - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }
}
