package dev.steadyrun.orchestrator.chaos;

import java.util.UUID;

import jakarta.validation.Valid;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;

/** {@code POST /api/v1/runs/{id}/chaos}: breaks a running run on purpose (admins only, and only with chaos enabled). */
@RestController
class ChaosController {

    private final ChaosService chaos;

    ChaosController(ChaosService chaos) {
        this.chaos = chaos;
    }

    @PostMapping("/api/v1/runs/{id}/chaos")
    @ResponseStatus(HttpStatus.ACCEPTED)
    @RequiresRole(Role.ADMIN)
    ChaosDtos.ChaosResponse inject(@PathVariable UUID id, @Valid @RequestBody ChaosDtos.ChaosRequest request,
                                   Caller caller) {
        return chaos.inject(id, request.action(), request.rank() == null ? 0 : request.rank(), caller.actor());
    }
}
