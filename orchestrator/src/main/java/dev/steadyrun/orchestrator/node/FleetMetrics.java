package dev.steadyrun.orchestrator.node;

import java.time.Duration;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * The fleet's meters, exported at {@code /actuator/prometheus}: nodes by state, node losses, failure-detection
 * latency (last heartbeat to the SUSPECT/FAILED transition), fleet incidents.
 */
@Component
class FleetMetrics {

    /** A node in these states was in service (it had heartbeat); leaving them for SUSPECT or FAILED loses it. */
    private static final Set<NodeState> IN_SERVICE = EnumSet.of(NodeState.HEALTHY, NodeState.SPARE,
            NodeState.CORDONED, NodeState.DRAINING);

    private final Timer detectionLatency;
    private final Counter incidents;
    private final AtomicInteger incidentOpen = new AtomicInteger();
    private final Map<NodeState, Counter> losses = new EnumMap<>(NodeState.class);
    private final LeaseTable leases;

    FleetMetrics(MeterRegistry registry, LeaseTable leases) {
        this.leases = leases;
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
        for (NodeState to : EnumSet.of(NodeState.SUSPECT, NodeState.FAILED)) {
            losses.put(to, Counter.builder("steadyrun.node.losses").tag("state", to.name())
                    .description("Nodes in service moved to SUSPECT or FAILED (lease expired, GPU fault); a SUSPECT"
                            + " node that then fails is not counted again").register(registry));
        }
    }

    /**
     * Only the orchestrator moves nodes to SUSPECT or FAILED, so every such move out of service is a loss. A node
     * cordoned before its first heartbeat was never in service: its failure is no loss.
     */
    @EventListener
    void onNodeStateChanged(NodeStateChanged e) {
        Counter counter = losses.get(e.to());
        LeaseRecord lease = leases.get(e.nodeId());
        if (counter != null && IN_SERVICE.contains(e.from()) && lease != null && lease.lastSeen != null) {
            counter.increment();
        }
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
