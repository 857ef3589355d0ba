package dev.steadyrun.orchestrator.node;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.springframework.stereotype.Component;

/**
 * The fleet's meters, exported at {@code /actuator/prometheus}: nodes by state, failure-detection latency (last heartbeat to the SUSPECT/FAILED transition), fleet incidents.
 */
@Component
class FleetMetrics {

    private final Timer detectionLatency;
    private final Counter incidents;
    private final AtomicInteger incidentOpen = new AtomicInteger();

    FleetMetrics(MeterRegistry registry, LeaseTable leases) {
        for (NodeState state : NodeState.values()) {
            Gauge.builder("steadyrun.nodes", leases, t -> t.all().stream().filter(r -> r.state == state).count())
                    .tag("state", state.name())
                    .description("Nodes by health state")
                    .register(registry);
        }
        detectionLatency = Timer.builder("steadyrun.failure.detection.latency")
                .description("From a node's last heartbeat to its move to SUSPECT or FAILED")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(100)).maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
        incidents = Counter.builder("steadyrun.fleet.incidents").description("Mass-failure incidents opened")
                .register(registry);
        Gauge.builder("steadyrun.fleet.incident.open", incidentOpen, AtomicInteger::get)
                .description("1 while a mass-failure incident is open").register(registry);
    }

    void detected(Duration sinceLastHeartbeat) {
        detectionLatency.record(sinceLastHeartbeat);
    }

    void incident(boolean open) {
        if (open && incidentOpen.getAndSet(1) == 0) {
            incidents.increment();
        } else if (!open) {
            incidentOpen.set(0);
        }
    }
}
