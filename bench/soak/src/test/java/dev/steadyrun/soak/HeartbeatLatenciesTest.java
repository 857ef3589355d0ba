package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HeartbeatLatenciesTest {

    @Test
    void eachMinuteAndTheWholeSoakHaveNearestRankPercentilesInMilliseconds() {
        HeartbeatLatencies l = new HeartbeatLatencies();
        for (int i = 100; i >= 1; i--) { // 1..100 ms in minute 0, recorded out of order
            l.record(10, i * 1000L);
        }
        for (int i = 0; i < 2000; i++) { // 2,000 of 5 ms in minute 2 (more than the first array holds)
            l.record(150, 5000);
        }
        l.record(151, 900_000);

        assertThat(l.windows(0)).containsExactly(
                new HeartbeatLatencies.Window(0, 100, 50, 99, 100),
                new HeartbeatLatencies.Window(2, 2001, 5, 5, 900));
        assertThat(l.windows(1)).extracting(HeartbeatLatencies.Window::minute).containsExactly(2);
        // 2,101 values, 2,005 of them ≤ 5 ms: the median is the 1,051st (5 ms), the p99 the 2,080th (80 ms)
        assertThat(l.overall(0)).isEqualTo(new HeartbeatLatencies.Window(-1, 2101, 5, 80, 900));
        assertThat(l.overall(3).count()).isZero();
        assertThat(l.overall(3).p99()).isNaN();
    }
}
