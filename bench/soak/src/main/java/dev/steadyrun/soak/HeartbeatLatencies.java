package dev.steadyrun.soak;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * TEST TOOL — every heartbeat's round trip as the simulated agent saw it (request written to answer read, in
 * microseconds), kept per minute of soak so a bad minute is not averaged away. Touched by the fleet's loop thread
 * only; read through {@link Fleet#onLoop}.
 */
final class HeartbeatLatencies {

    /** One minute's figures, in milliseconds. */
    record Window(int minute, int count, double p50, double p99, double max) {
    }

    private final List<long[]> minutes = new ArrayList<>();
    private final List<Integer> counts = new ArrayList<>();

    void record(double soakSeconds, long micros) {
        int minute = (int) (soakSeconds / 60);
        while (minutes.size() <= minute) {
            minutes.add(new long[1024]);
            counts.add(0);
        }
        long[] m = minutes.get(minute);
        int n = counts.get(minute);
        if (n == m.length) {
            m = Arrays.copyOf(m, 2 * n);
            minutes.set(minute, m);
        }
        m[n] = micros;
        counts.set(minute, n + 1);
    }

    /** Each minute from {@code fromMinute} on that saw heartbeats. */
    List<Window> windows(int fromMinute) {
        List<Window> out = new ArrayList<>();
        for (int i = fromMinute; i < minutes.size(); i++) {
            if (counts.get(i) > 0) {
                out.add(window(i, Arrays.copyOf(minutes.get(i), counts.get(i))));
            }
        }
        return out;
    }

    /** All heartbeats from {@code fromMinute} on, as one window (minute = -1). */
    Window overall(int fromMinute) {
        int total = 0;
        for (int i = fromMinute; i < minutes.size(); i++) {
            total += counts.get(i);
        }
        long[] v = new long[total];
        int at = 0;
        for (int i = fromMinute; i < minutes.size(); i++) {
            System.arraycopy(minutes.get(i), 0, v, at, counts.get(i));
            at += counts.get(i);
        }
        return v.length == 0 ? new Window(-1, 0, Double.NaN, Double.NaN, Double.NaN) : window(-1, v);
    }

    /** The figures of {@code micros} (at least one), with the report's nearest-rank percentiles. */
    private static Window window(int minute, long[] micros) {
        double[] ms = Arrays.stream(micros).sorted().mapToDouble(us -> us / 1000.0).toArray();
        return new Window(minute, ms.length, GoodputReport.percentile(ms, 0.5), GoodputReport.percentile(ms, 0.99),
                ms[ms.length - 1]);
    }
}
