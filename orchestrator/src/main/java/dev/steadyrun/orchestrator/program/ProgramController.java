package dev.steadyrun.orchestrator.program;

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
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;

/** The program registry: admins register and remove, anyone signed in reads (operators choose from it). */
@RestController
@RequestMapping("/api/v1/programs")
class ProgramController {

    private final Programs programs;

    ProgramController(Programs programs) {
        this.programs = programs;
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    @RequiresRole(Role.ADMIN)
    ProgramDtos.Program register(@Valid @RequestBody ProgramDtos.RegisterProgram request, Caller caller) {
        return programs.register(request, caller.actor());
    }

    @GetMapping
    List<ProgramDtos.Program> list() {
        return programs.list();
    }

    @DeleteMapping("/{id}")
    @RequiresRole(Role.ADMIN)
    ProgramDtos.Program delete(@PathVariable UUID id) {
        return programs.delete(id);
    }
}
