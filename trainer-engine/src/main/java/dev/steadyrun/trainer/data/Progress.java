package dev.steadyrun.trainer.data;

import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;

/** One self-overwriting status line (documents/s, MB/s of input, ETA), redrawn at most every {@code interval}. */
final class Progress {

    private final PrintStream out;
    private final Clock clock;
    private final Duration interval;
    private final long startMillis;
    private long lastMillis;
    private boolean drawn;

    Progress(PrintStream out, Clock clock, Duration interval) {
        this.out = out;
        this.clock = clock;
        this.interval = interval;
        this.startMillis = clock.millis();
        this.lastMillis = startMillis;
    }

    /** Redraws if the interval has passed; {@code bytesRead} and {@code totalBytes} are raw input bytes. */
    void update(long documents, long bytesRead, long totalBytes) {
        long now = clock.millis();
        if (now - lastMillis < interval.toMillis()) {
            return;
        }
        lastMillis = now;
        out.print("\r" + line(documents, bytesRead, totalBytes, now - startMillis));
        out.flush();
        drawn = true;
    }

    void finish() {
        if (drawn) {
            out.println();
        }
    }

    static String line(long documents, long bytesRead, long totalBytes, long elapsedMillis) {
        double seconds = Math.max(elapsedMillis, 1) / 1000.0;
        double bytesPerSecond = bytesRead / seconds;
        String eta = bytesRead <= 0 || totalBytes <= 0 ? "?"
                : clockTime((long) ((totalBytes - Math.min(bytesRead, totalBytes)) / bytesPerSecond));
        return String.format(Locale.ROOT, "%,d docs  %,.0f docs/s  %.1f MB/s  %3.0f%%  ETA %s", documents,
                documents / seconds, bytesPerSecond / 1e6, totalBytes <= 0 ? 0.0 : 100.0 * bytesRead / totalBytes,
                eta);
    }

    private static String clockTime(long seconds) {
        return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }
}
