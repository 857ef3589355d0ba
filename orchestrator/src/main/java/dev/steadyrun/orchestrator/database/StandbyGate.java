package dev.steadyrun.orchestrator.database;

import java.io.IOException;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * A standby orchestrator serves no API call (agents and operators alike get 503 with {@code Retry-After}, so an
 * agent tries the other replica) and reports itself not ready ({@code /readyz}: the health
 * indicator {@code orchestratorLock}), so that a Kubernetes Service routes only to the active one. It stays live.
 * The path is the decoded, normalised servlet path, so no spelling of {@code /api/} slips past.
 */
@Component("orchestratorLock")
@Order(Ordered.HIGHEST_PRECEDENCE)
class StandbyGate extends OncePerRequestFilter implements HealthIndicator {

    private final ActiveOrchestratorLock lock;

    StandbyGate(ActiveOrchestratorLock lock) {
        this.lock = lock;
    }

    @Override
    public Health health() {
        return lock.isActive() ? Health.up().withDetail("role", "active").build()
                : Health.outOfService().withDetail("role", "standby").build();
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getServletPath() + (request.getPathInfo() == null ? "" : request.getPathInfo());
        return lock.isActive() || !path.startsWith("/api/");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        response.setStatus(HttpServletResponse.SC_SERVICE_UNAVAILABLE);
        // the standby tries the lock this often: asking again sooner finds it still standing by
        response.setHeader("Retry-After", Long.toString(Math.max(1, (lock.retryAfter().toMillis() + 999) / 1000)));
        response.setContentType("application/problem+json");
        response.getWriter().write("{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
                + "\"detail\":\"this orchestrator is the standby; the active one serves the API\"}");
    }
}
