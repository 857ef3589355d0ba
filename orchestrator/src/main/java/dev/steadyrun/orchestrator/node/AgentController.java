package dev.steadyrun.orchestrator.node;

import java.util.UUID;

import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;

/** The agents' side of the API; authenticated by the join token and node credentials (see AuthInterceptor). */
@RestController
@RequestMapping("/api/v1/agents")
class AgentController {

    private final NodeRegistry registry;
    private final HeartbeatService heartbeats;

    AgentController(NodeRegistry registry, HeartbeatService heartbeats) {
        this.registry = registry;
        this.heartbeats = heartbeats;
    }

    @PostMapping("/register")
    RegisterResponse register(@RequestBody RegisterRequest request) {
        return registry.register(request);
    }

    @PostMapping("/{nodeId}/heartbeat")
    HeartbeatResponse heartbeat(@PathVariable UUID nodeId, @RequestBody HeartbeatRequest request) {
        return heartbeats.heartbeat(nodeId, request);
    }
}
