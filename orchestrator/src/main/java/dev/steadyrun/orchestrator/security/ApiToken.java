package dev.steadyrun.orchestrator.security;

import java.time.Instant;
import java.util.UUID;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** An operator API token; only the SHA-256 of its secret is kept. */
@Entity
@Table(name = "api_token")
class ApiToken {

    @Id
    private UUID id;
    private String name;
    @Enumerated(EnumType.STRING)
    private Role role;
    @Column(name = "secret_hash")
    private byte[] secretHash;
    private Instant createdAt;
    private String createdBy;
    private Instant revokedAt;

    protected ApiToken() {
    }

    ApiToken(UUID id, String name, Role role, byte[] secretHash, Instant createdAt, String createdBy) {
        this.id = id;
        this.name = name;
        this.role = role;
        this.secretHash = secretHash;
        this.createdAt = createdAt;
        this.createdBy = createdBy;
    }

    UUID id() {
        return id;
    }

    String name() {
        return name;
    }

    Role role() {
        return role;
    }

    Instant createdAt() {
        return createdAt;
    }

    String createdBy() {
        return createdBy;
    }

    Instant revokedAt() {
        return revokedAt;
    }

    void revoke(Instant at) {
        if (revokedAt == null) {
            revokedAt = at;
        }
    }
}
