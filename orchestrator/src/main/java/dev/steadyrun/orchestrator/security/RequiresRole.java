package dev.steadyrun.orchestrator.security;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The role an operator endpoint needs, on a controller method or class (the method wins). Without it, GET and
 * HEAD need VIEWER and every other method needs OPERATOR. Checked by {@link AuthInterceptor} for every
 * {@code /api/**} path except {@code /api/v1/agents/**}, which agents call with their own credentials.
 */
@Target({ElementType.METHOD, ElementType.TYPE})
@Retention(RetentionPolicy.RUNTIME)
public @interface RequiresRole {
    Role value();
}
