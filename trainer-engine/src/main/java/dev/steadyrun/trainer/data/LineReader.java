package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Reads LF-terminated lines as raw bytes (a trailing CR is dropped) without ever holding more than
 * {@code maxLineBytes} of one line: longer lines are skipped to their end and reported as {@link #OVERSIZED}.
 */
final class LineReader {

    static final int EOF = -1;
    static final int OVERSIZED = -2;

    private final InputStream in;
    private final int maxLineBytes;
    private final byte[] buf = new byte[1 << 16];
    private int pos;
    private int limit;
    private byte[] line = new byte[1024];
    private long oversizedLength;

    LineReader(InputStream in, int maxLineBytes) {
        this.in = in;
        this.maxLineBytes = maxLineBytes;
    }

    /** The bytes of the last line read, valid up to the length {@link #next} returned. */
    byte[] line() {
        return line;
    }

    /** The full length of the last line reported {@link #OVERSIZED}. */
    long oversizedLength() {
        return oversizedLength;
    }

    /** Length of the next line, {@link #OVERSIZED} for a line over the limit, or {@link #EOF}. */
    int next() throws IOException {
        int len = 0;
        long total = 0;
        boolean oversized = false;
        boolean any = false;
        while (true) {
            if (pos == limit) {
                limit = in.read(buf, 0, buf.length);
                pos = 0;
                if (limit <= 0) {
                    limit = 0;
                    if (!any) {
                        return EOF;
                    }
                    return finish(oversized, len, total);
                }
            }
            any = true;
            int start = pos;
            int nl = -1;
            for (int i = pos; i < limit; i++) {
                if (buf[i] == '\n') {
                    nl = i;
                    break;
                }
            }
            int end = nl >= 0 ? nl : limit;
            int chunk = end - start;
            total += chunk;
            if (!oversized) {
                if ((long) len + chunk > maxLineBytes) {
                    oversized = true;
                } else {
                    if (len + chunk > line.length) {
                        line = Arrays.copyOf(line, Math.min(maxLineBytes, Math.max(len + chunk, line.length * 2)));
                    }
                    System.arraycopy(buf, start, line, len, chunk);
                    len += chunk;
                }
            }
            pos = nl >= 0 ? nl + 1 : limit;
            if (nl >= 0) {
                return finish(oversized, len, total);
            }
        }
    }

    private int finish(boolean oversized, int len, long total) {
        if (oversized) {
            oversizedLength = total;
            return OVERSIZED;
        }
        return stripCr(len);
    }

    private int stripCr(int len) {
        return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
    }
}
