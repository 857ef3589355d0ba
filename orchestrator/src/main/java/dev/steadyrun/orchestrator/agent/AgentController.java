package dev.steadyrun.orchestrator.agent;

import java.util.UUID;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.security.AgentAuth;
import dev.steadyrun.orchestrator.security.AgentAuth.Credential;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;
import dev.steadyrun.protocol.TrainerReport;

/**
 * The agents' whole side of the API: register (join token), heartbeat and trainer reports (node credential; see
 * AuthInterceptor). Everything an agent sends enters here and walks down into the features.
 */
@RestController
@RequestMapping("/api/v1/agents")
@AgentAuth(Credential.NODE_CREDENTIAL)
class AgentController {

    private final NodeRegistry registry;
    private final HeartbeatHandler heartbeats;
    private final ReportHandler reports;

    AgentController(NodeRegistry registry, HeartbeatHandler heartbeats, ReportHandler reports) {
        this.registry = registry;
        this.heartbeats = heartbeats;
        this.reports = reports;
    }

    @PostMapping("/register")
    @AgentAuth(Credential.JOIN_TOKEN)
    RegisterResponse register(@RequestBody RegisterRequest request) {
        return registry.register(request);
    }

    @PostMapping("/{nodeId}/heartbeat")
    HeartbeatResponse heartbeat(@PathVariable UUID nodeId, @RequestBody HeartbeatRequest request) {
        return heartbeats.heartbeat(nodeId, request);
    }

    /** The trainer's lines, forwarded by its agent. */
    @PostMapping("/{nodeId}/reports")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void report(@PathVariable UUID nodeId, @RequestBody TrainerReport report) {
        reports.accept(nodeId, report);
    }
}
