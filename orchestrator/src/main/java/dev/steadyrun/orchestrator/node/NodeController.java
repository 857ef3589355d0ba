package dev.steadyrun.orchestrator.node;

import java.util.List;
import java.util.UUID;

import jakarta.validation.Valid;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;
import dev.steadyrun.protocol.RegisterResponse;

/**
 * Operators' view of the fleet. GETs need VIEWER, the actions OPERATOR (the POST default); re-key and delete, which
 * decide a node's identity, need ADMIN.
 */
@RestController
@RequestMapping("/api/v1")
class NodeController {

    private final NodeRegistry registry;
    private final FleetIncidentRepository incidents;

    NodeController(NodeRegistry registry, FleetIncidentRepository incidents) {
        this.registry = registry;
        this.incidents = incidents;
    }

    @GetMapping("/nodes")
    NodeDtos.Page<NodeView> list(@RequestParam(required = false) NodeState state,
                                 @RequestParam(required = false) String label,
                                 @RequestParam(defaultValue = "0") int page,
                                 @RequestParam(defaultValue = "50") int size) {
        return registry.list(state, label, page, size);
    }

    @GetMapping("/nodes/{id}")
    NodeDtos.Detail get(@PathVariable UUID id) {
        return registry.detail(id);
    }

    @GetMapping("/nodes/{id}/events")
    NodeDtos.Page<NodeDtos.Event> events(@PathVariable UUID id, @RequestParam(defaultValue = "0") int page,
                                         @RequestParam(defaultValue = "50") int size) {
        return registry.events(id, page, size);
    }

    @PostMapping("/nodes/{id}/cordon")
    NodeView cordon(@PathVariable UUID id, @Valid @RequestBody(required = false) NodeDtos.Action body,
                    Caller caller) {
        return registry.cordon(id, reason(body), caller.actor());
    }

    @PostMapping("/nodes/{id}/uncordon")
    NodeView uncordon(@PathVariable UUID id, @Valid @RequestBody(required = false) NodeDtos.Action body,
                      Caller caller) {
        return registry.uncordon(id, reason(body), caller.actor());
    }

    @PostMapping("/nodes/{id}/drain")
    NodeView drain(@PathVariable UUID id, @Valid @RequestBody(required = false) NodeDtos.Action body,
                   Caller caller) {
        return registry.drain(id, reason(body), caller.actor());
    }

    /** A new credential for the node, answered only here; the agent's old one stops working. */
    @PostMapping("/nodes/{id}/rekey")
    @RequiresRole(Role.ADMIN)
    NodeDtos.Credential rekey(@PathVariable UUID id, Caller caller) {
        RegisterResponse r = registry.rekey(id, caller.actor());
        return new NodeDtos.Credential(r.nodeId(), r.nodeCredential());
    }

    @DeleteMapping("/nodes/{id}")
    @RequiresRole(Role.ADMIN)
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void delete(@PathVariable UUID id, Caller caller) {
        registry.delete(id, caller.actor());
    }

    @GetMapping("/fleet/incidents")
    List<NodeDtos.Incident> incidents() {
        return incidents.findTop50ByOrderByIdDesc().stream().map(NodeDtos.Incident::of).toList();
    }

    private static String reason(NodeDtos.Action body) {
        return body == null || body.reason() == null || body.reason().isBlank() ? null : body.reason();
    }
}
