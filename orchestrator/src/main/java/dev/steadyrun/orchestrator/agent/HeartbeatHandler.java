package dev.steadyrun.orchestrator.agent;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.springframework.stereotype.Service;

import dev.steadyrun.orchestrator.chaos.ChaosService;
import dev.steadyrun.orchestrator.node.HeartbeatService;
import dev.steadyrun.orchestrator.scheduling.NodeDirectives;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * A heartbeat: the node's lease and health first ({@link HeartbeatService}), then what the node should do. FAILED
 * and DRAINING nodes are answered STOP (a trainer still runs) or IDLE; every other node by {@link NodeDirectives},
 * from memory, with any chaos faults waiting for the node (a test tool, also in memory). No query on this path
 * unless the node's health changed.
 */
@Service
class HeartbeatHandler {

    private final HeartbeatService health;
    private final NodeDirectives directives;
    private final ChaosService chaos;
    private final Counter received;
    private final Timer latency;

    HeartbeatHandler(HeartbeatService health, NodeDirectives directives, ChaosService chaos, MeterRegistry registry) {
        this.health = health;
        this.directives = directives;
        this.chaos = chaos;
        this.received = Counter.builder("steadyrun.heartbeats.received").description("Heartbeats accepted")
                .register(registry);
        this.latency = Timer.builder("steadyrun.heartbeat.latency")
                .description("Time to handle one heartbeat in the orchestrator")
                .publishPercentileHistogram().register(registry);
    }

    HeartbeatResponse heartbeat(UUID nodeId, HeartbeatRequest request) {
        long started = System.nanoTime();
        HeartbeatService.Beat beat = health.beat(nodeId, request);
        TrainerStatus trainer = request.trainer();
        HeartbeatResponse response = switch (beat.state()) {
            case FAILED, DRAINING -> new HeartbeatResponse(active(trainer) ? DesiredState.STOP : DesiredState.IDLE,
                    null, beat.timings());
            default -> directives.directivesFor(nodeId, trainer, beat.timings());
        };
        List<ChaosFault> faults = chaos.takeFor(nodeId);
        if (!faults.isEmpty()) {
            response = response.withChaos(faults);
        }
        received.increment();
        latency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        return response;
    }

    private static boolean active(TrainerStatus trainer) {
        return trainer.state() == TrainerState.RUNNING || trainer.state() == TrainerState.STARTING;
    }
}
