package dev.steadyrun.orchestrator.security;

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

@RestController
@RequestMapping("/api/v1/tokens")
@RequiresRole(Role.ADMIN)
class TokenController {

    private final TokenService tokens;

    TokenController(TokenService tokens) {
        this.tokens = tokens;
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    TokenDtos.Created create(@Valid @RequestBody TokenDtos.CreateRequest request, Caller caller) {
        return tokens.create(request, caller);
    }

    @GetMapping
    List<TokenDtos.View> list() {
        return tokens.list();
    }

    @DeleteMapping("/{id}")
    TokenDtos.View revoke(@PathVariable UUID id) {
        return tokens.revoke(id);
    }
}
