package dev.steadyrun.orchestrator.security;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a handler that agents call with their own credential instead of an operator API token (on the method or
 * its controller; the method wins). {@link AuthInterceptor} decides by this mark on the handler Spring matched,
 * never by the request's path, so no spelling of a URL can move a call from one kind of authentication to the other.
 */
@Target({ElementType.METHOD, ElementType.TYPE})
@Retention(RetentionPolicy.RUNTIME)
public @interface AgentAuth {

    Credential value();

    enum Credential {
        /** The fleet join token (registration). */
        JOIN_TOKEN,
        /** The credential of the node named by the handler's {@code {nodeId}} path variable. */
        NODE_CREDENTIAL
    }
}
