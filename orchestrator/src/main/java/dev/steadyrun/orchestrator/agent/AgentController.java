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
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;

/**
 * The agents' whole side of the API: register (join token), heartbeat, trainer reports and log lines (node
 * credential; see AuthInterceptor). Everything an agent sends enters here and walks down into the features.
 */
@RestController
@RequestMapping("/api/v1/agents")
@AgentAuth(Credential.NODE_CREDENTIAL)
class AgentController {

    private final NodeRegistry registry;
    private final HeartbeatHandler heartbeats;
    private final ReportHandler reports;
    private final LogHandler logs;

    AgentController(NodeRegistry registry, HeartbeatHandler heartbeats, ReportHandler reports, LogHandler logs) {
        this.registry = registry;
        this.heartbeats = heartbeats;
        this.reports = reports;
        this.logs = logs;
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

    /** The trainer's log lines for the live view, forwarded by its agent. */
    @PostMapping("/{nodeId}/logs")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void logs(@PathVariable UUID nodeId, @RequestBody TrainerLogBatch batch) {
        logs.accept(nodeId, batch);
    }
}
