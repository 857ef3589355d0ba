package dev.steadyrun.orchestrator.security;

import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.data.domain.Sort;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.NotFoundException;

/** Operator API tokens: creation (secret returned once), listing without secrets, revocation, lookup. */
@Service
class TokenService {

    static final String BOOTSTRAP_NAME = "bootstrap-admin";

    private final ApiTokenRepository tokens;
    private final Clock clock;
    private final byte[] bootstrapHash;

    TokenService(ApiTokenRepository tokens, Clock clock, SecurityProperties props) {
        this.tokens = tokens;
        this.clock = clock;
        String bootstrap = props.bootstrapAdminToken();
        this.bootstrapHash = bootstrap == null || bootstrap.isBlank() ? null : Secrets.sha256(bootstrap);
    }

    /** The caller a bearer secret stands for, if any. */
    @Transactional(readOnly = true)
    Optional<Caller> authenticate(String secret) {
        if (Secrets.matches(secret, bootstrapHash)) {
            return Optional.of(new Caller(BOOTSTRAP_NAME, Role.ADMIN));
        }
        return tokens.findBySecretHashAndRevokedAtIsNull(Secrets.sha256(secret))
                .map(t -> new Caller(t.name(), t.role()));
    }

    @Transactional
    TokenDtos.Created create(TokenDtos.CreateRequest request, Caller caller) {
        if (BOOTSTRAP_NAME.equals(request.name()) || tokens.existsByName(request.name())) {
            throw new ConflictException("a token named '" + request.name() + "' already exists");
        }
        if (request.role() == null) {
            throw new BadRequestException("role", "must be one of VIEWER, OPERATOR, ADMIN");
        }
        String secret = Secrets.generate("srt_");
        ApiToken token = tokens.save(new ApiToken(UUID.randomUUID(), request.name(), request.role(),
                Secrets.sha256(secret), clock.instant(), caller.actor()));
        return new TokenDtos.Created(TokenDtos.View.of(token), secret);
    }

    @Transactional(readOnly = true)
    List<TokenDtos.View> list() {
        return tokens.findAll(Sort.by("createdAt")).stream().map(TokenDtos.View::of).toList();
    }

    @Transactional
    TokenDtos.View revoke(UUID id) {
        ApiToken token = tokens.findById(id).orElseThrow(() -> new NotFoundException("no token " + id));
        token.revoke(clock.instant());
        return TokenDtos.View.of(token);
    }
}
