package dev.steadyrun.orchestrator.run;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.springframework.stereotype.Component;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/** The gauge {@code steadyrun.runs{state}}: runs per state, recounted by every scheduling pass. */
@Component
public class RunGauges {

    private final Map<RunState, AtomicLong> counts = new EnumMap<>(RunState.class);
    private final RunRepository runs;

    RunGauges(RunRepository runs, MeterRegistry registry) {
        this.runs = runs;
        for (RunState state : RunState.values()) {
            AtomicLong count = new AtomicLong();
            counts.put(state, count);
            Gauge.builder("steadyrun.runs", count, AtomicLong::get).tag("state", state.name())
                    .description("Runs in each state").register(registry);
        }
    }

    public void recount() {
        Map<RunState, Long> fresh = new EnumMap<>(RunState.class);
        runs.countByState().forEach(c -> fresh.put(c.getState(), c.getCount()));
        counts.forEach((state, count) -> count.set(fresh.getOrDefault(state, 0L)));
    }
}
