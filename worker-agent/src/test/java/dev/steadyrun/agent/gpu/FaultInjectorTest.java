package dev.steadyrun.agent.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.GpuHealth;

class FaultInjectorTest {

    private static final List<GpuHealth> HEALTHY = List.of(
            new GpuHealth(0, 50, 1, 100, 90, 0, 0, 0, List.of(), 0),
            new GpuHealth(1, 51, 1, 100, 90, 0, 0, 0, List.of(), 0));

    @Test
    void faultsAreConsumedOnceAndCumulativeCountersStay(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("faults");
        FaultInjector injector = new FaultInjector(file);
        assertThat(injector.apply(HEALTHY)).isEqualTo(HEALTHY);

        Files.writeString(file, """
                # test: a fallen-off-the-bus GPU and HBM errors
                xid 79 gpu=0
                ecc-uncorrectable 3 gpu=1
                temperature 97 gpu=1
                xid banana gpu=0
                melt 1 gpu=0
                xid 48 gpu=9
                """);
        List<GpuHealth> first = injector.apply(HEALTHY);
        assertThat(file).doesNotExist();
        assertThat(first.get(0).xidErrors()).containsExactly(79);
        assertThat(first.get(1).eccUncorrectable()).isEqualTo(3);
        assertThat(first.get(1).temperatureC()).isEqualTo(97);

        List<GpuHealth> second = injector.apply(HEALTHY);
        assertThat(second.get(0).xidErrors()).as("an XID is an event of one heartbeat").isEmpty();
        assertThat(second.get(1).temperatureC()).isEqualTo(51);
        assertThat(second.get(1).eccUncorrectable()).as("ECC counts are cumulative").isEqualTo(3);
    }

    @Test
    void badLinesSayWhatIsExpected() {
        assertThatThrownBy(() -> FaultInjector.parse("xid 79")).hasMessageContaining("<kind> <number> gpu=<index>");
        assertThatThrownBy(() -> FaultInjector.parse("melt 1 gpu=0")).hasMessageContaining("unknown fault kind 'melt'");
        assertThatThrownBy(() -> FaultInjector.parse("xid -1 gpu=0")).hasMessageContaining("negative");
    }
}
