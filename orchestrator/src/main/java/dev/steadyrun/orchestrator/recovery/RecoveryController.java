package dev.steadyrun.orchestrator.recovery;

import java.util.List;
import java.util.UUID;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;

/** The recovery logbook and manual control: reading needs VIEWER, restarting and swapping OPERATOR. */
@RestController
class RecoveryController {

    private final ManualRecovery recovery;

    RecoveryController(ManualRecovery recovery) {
        this.recovery = recovery;
    }

    /** A run's incidents, newest first. */
    @GetMapping("/api/v1/runs/{id}/incidents")
    List<IncidentResponse> ofRun(@PathVariable UUID id) {
        return recovery.incidentsOfRun(id);
    }

    /** The incidents that name a node (as the failed one or the one swapped in), newest first. */
    @GetMapping("/api/v1/nodes/{id}/incidents")
    List<IncidentResponse> ofNode(@PathVariable UUID id) {
        return recovery.incidentsOfNode(id);
    }

    @PostMapping("/api/v1/runs/{id}/restart")
    @ResponseStatus(HttpStatus.ACCEPTED)
    @RequiresRole(Role.OPERATOR)
    IncidentResponse restart(@PathVariable UUID id, @RequestBody(required = false) RestartRequest request,
                             Caller caller) {
        return recovery.restart(id, request, caller.actor());
    }

    @PostMapping("/api/v1/nodes/{id}/swap")
    @ResponseStatus(HttpStatus.ACCEPTED)
    @RequiresRole(Role.OPERATOR)
    IncidentResponse swap(@PathVariable UUID id, Caller caller) {
        return recovery.swap(id, caller.actor());
    }
}
