package dev.steadyrun.orchestrator.security;

import java.time.Instant;
import java.util.UUID;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/** The token API's records. */
final class TokenDtos {

    private TokenDtos() {
    }

    record CreateRequest(
            @NotBlank @Pattern(regexp = "[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
                    message = "letters, digits, '.', '_' and '-', at most 100") String name,
            @NotNull Role role) {
    }

    /** A token without its secret. */
    record View(UUID id, String name, Role role, Instant createdAt, String createdBy, Instant revokedAt) {
        static View of(ApiToken t) {
            return new View(t.id(), t.name(), t.role(), t.createdAt(), t.createdBy(), t.revokedAt());
        }
    }

    /** Returned once, at creation: the only time the secret is shown. */
    record Created(View token, String secret) {
    }
}
