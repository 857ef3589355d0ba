package dev.steadyrun.orchestrator.agent;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

import dev.steadyrun.orchestrator.database.ActiveOrchestratorLock;
import dev.steadyrun.orchestrator.web.ServiceUnavailableException;

/**
 * Fail closed: while the database lock is not confirmed ({@link ActiveOrchestratorLock#confirmed()}) every agent
 * endpoint answers 503 with Retry-After, before authentication or the body is read. Another orchestrator may hold
 * the database then, and leases renewed or assignments handed out from this one's memory would contradict it. The
 * gate goes by the handler the request matched, not by the path's spelling.
 */
@Configuration(proxyBeanMethods = false)
class AgentGate implements HandlerInterceptor, WebMvcConfigurer {

    private final ActiveOrchestratorLock lock;

    AgentGate(ActiveOrchestratorLock lock) {
        this.lock = lock;
    }

    @Override
    public void addInterceptors(InterceptorRegistry registry) {
        registry.addInterceptor(this).order(Ordered.HIGHEST_PRECEDENCE);
    }

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
        if (handler instanceof HandlerMethod method && method.getBeanType() == AgentController.class
                && !lock.confirmed()) {
            throw new ServiceUnavailableException("this orchestrator cannot confirm that it still holds the database "
                    + "lock; not serving agents until it does", lock.retryAfter());
        }
        return true;
    }
}
