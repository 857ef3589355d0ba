package dev.steadyrun.orchestrator.security;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * Secrets that let the first callers in ({@code steadyrun.security.*}). Never logged.
 *
 * @param joinToken           the fleet join token agents present to register (required)
 * @param bootstrapAdminToken an ADMIN token from configuration so the first admin exists; blank for none
 */
@Validated
@ConfigurationProperties("steadyrun.security")
public record SecurityProperties(
        @NotBlank @Size(min = 16, message = "must be at least 16 characters") String joinToken,
        String bootstrapAdminToken) {

    @Override
    public String toString() {
        return "SecurityProperties[secrets hidden]";
    }
}
