package dev.steadyrun.orchestrator.security;

import java.util.Map;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.HandlerMapping;

import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ForbiddenException;
import dev.steadyrun.orchestrator.web.UnauthorizedException;

/**
 * Authenticates and authorizes every {@code /api/**} handler before its body is read.
 * <ul>
 *   <li>{@code POST /api/v1/agents/register}: the fleet join token.</li>
 *   <li>{@code /api/v1/agents/{nodeId}/**}: that node's credential (checked against an in-memory hash cache,
 *       so heartbeats cost no query). Any endpoint under this path is covered without further work.</li>
 *   <li>everything else: an operator API token; the role comes from {@link RequiresRole}, else GET/HEAD need
 *       VIEWER and other methods OPERATOR. Declare a {@link Caller} parameter to learn who called.</li>
 * </ul>
 * Secrets are never logged; failures say only what was missing or wrong.
 */
@Component
class AuthInterceptor implements HandlerInterceptor {

    static final String AGENTS = "/api/v1/agents/";

    private final TokenService tokens;
    private final NodeCredentials nodes;
    private final byte[] joinTokenHash;

    AuthInterceptor(TokenService tokens, NodeCredentials nodes, SecurityProperties props) {
        this.tokens = tokens;
        this.nodes = nodes;
        this.joinTokenHash = Secrets.sha256(props.joinToken());
    }

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
        if (!(handler instanceof HandlerMethod method)) {
            return true; // unknown paths fall through to a 404
        }
        String bearer = bearer(request);
        String path = request.getRequestURI();
        if (path.startsWith(AGENTS)) {
            authenticateAgent(request, path, bearer);
            return true;
        }
        Caller caller = tokens.authenticate(bearer)
                .orElseThrow(() -> new UnauthorizedException("unknown or revoked API token"));
        Role required = required(method, request.getMethod());
        if (!caller.role().includes(required)) {
            throw new ForbiddenException("this needs role " + required + "; the token has " + caller.role());
        }
        request.setAttribute(Caller.ATTRIBUTE, caller);
        return true;
    }

    private void authenticateAgent(HttpServletRequest request, String path, String bearer) {
        if (path.equals(AGENTS + "register")) {
            if (!Secrets.matches(bearer, joinTokenHash)) {
                throw new UnauthorizedException("wrong fleet join token");
            }
            return;
        }
        @SuppressWarnings("unchecked")
        Map<String, String> vars = (Map<String, String>) request.getAttribute(
                HandlerMapping.URI_TEMPLATE_VARIABLES_ATTRIBUTE);
        String raw = vars == null ? null : vars.get("nodeId");
        if (raw == null) {
            throw new UnauthorizedException("agent endpoints are /api/v1/agents/{nodeId}/...");
        }
        UUID nodeId;
        try {
            nodeId = UUID.fromString(raw);
        } catch (IllegalArgumentException e) {
            throw new BadRequestException("nodeId", "not a UUID");
        }
        // An unknown node and a wrong credential answer alike, so that nobody can probe which node ids exist;
        // either way the agent registers again.
        if (!nodes.matches(nodeId, bearer)) {
            throw new UnauthorizedException("unknown node or wrong node credential; register again");
        }
    }

    private static Role required(HandlerMethod method, String httpMethod) {
        RequiresRole onMethod = method.getMethodAnnotation(RequiresRole.class);
        if (onMethod != null) {
            return onMethod.value();
        }
        RequiresRole onClass = method.getBeanType().getAnnotation(RequiresRole.class);
        if (onClass != null) {
            return onClass.value();
        }
        return "GET".equals(httpMethod) || "HEAD".equals(httpMethod) ? Role.VIEWER : Role.OPERATOR;
    }

    private static String bearer(HttpServletRequest request) {
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() == 7) {
            throw new UnauthorizedException("missing 'Authorization: Bearer <token>' header");
        }
        return header.substring(7).trim();
    }
}
