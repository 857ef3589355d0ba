package dev.steadyrun.orchestrator.web;

import java.io.IOException;
import java.util.Optional;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses, with 400, every request path that can be spelled two ways: percent-encoded unreserved characters
 * ({@code /%61pi}), encoded control characters and matrix parameters ({@code ;x}). Such paths reach the same
 * handler as their plain spelling, so any check done on the raw path (a prefix, a log line, a proxy's rule) could
 * be dodged by them; no client of this API sends them. Encoded {@code /}, {@code \} and NUL never get here: Tomcat
 * refuses them first, and {@link TomcatProblemPages} makes that refusal a problem detail too. Runs before anything
 * else.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
class StrictPathFilter extends OncePerRequestFilter {

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Optional<String> refusal = refusal(request.getRequestURI());
        if (refusal.isPresent()) {
            TomcatProblemPages.write(response, HttpStatus.BAD_REQUEST, refusal.get());
            return;
        }
        chain.doFilter(request, response);
    }

    /** Why the raw (undecoded) path is refused, or empty. */
    static Optional<String> refusal(String rawPath) {
        if (rawPath.indexOf(';') >= 0) {
            return Optional.of("matrix parameters (';') are not accepted in a path");
        }
        for (int i = rawPath.indexOf('%'); i >= 0; i = rawPath.indexOf('%', i + 1)) {
            int value = i + 2 < rawPath.length() ? hex(rawPath.charAt(i + 1), rawPath.charAt(i + 2)) : -1;
            if (value < 0) {
                return Optional.of("malformed percent-encoding in the path");
            }
            if (unreserved(value)) {
                return Optional.of("percent-encoded '" + (char) value + "' in the path: send it unencoded");
            }
            if (value < 0x20 || value == 0x7f || value == '/' || value == '\\') {
                return Optional.of("encoded '/', '\\' or control characters are not accepted in a path");
            }
        }
        return Optional.empty();
    }

    /** RFC 3986 section 2.3: the characters that never need encoding. */
    private static boolean unreserved(int c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                || c == '-' || c == '.' || c == '_' || c == '~';
    }

    private static int hex(char high, char low) {
        int h = Character.digit(high, 16);
        int l = Character.digit(low, 16);
        return h < 0 || l < 0 ? -1 : h * 16 + l;
    }
}
