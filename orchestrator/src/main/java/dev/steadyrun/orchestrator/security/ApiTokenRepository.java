package dev.steadyrun.orchestrator.security;

import java.util.Optional;
import java.util.UUID;

import org.springframework.data.jpa.repository.JpaRepository;

interface ApiTokenRepository extends JpaRepository<ApiToken, UUID> {

    Optional<ApiToken> findBySecretHashAndRevokedAtIsNull(byte[] secretHash);

    boolean existsByName(String name);
}
