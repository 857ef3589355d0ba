package dev.steadyrun.orchestrator.security;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** Who the presented API token belongs to, so the web UI can hide the actions the caller's role cannot take. */
@RestController
class MeController {

    record Me(String name, Role role) {
    }

    @GetMapping("/api/v1/me")
    Me me(Caller caller) {
        return new Me(caller.name(), caller.role());
    }
}
