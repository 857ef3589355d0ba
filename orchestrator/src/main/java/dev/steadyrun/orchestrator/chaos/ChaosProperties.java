package dev.steadyrun.orchestrator.chaos;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The chaos API ({@code steadyrun.chaos.*}), a test tool for demos and recovery drills.
 *
 * @param enabled whether {@code POST /api/v1/runs/{id}/chaos} acts at all; off by default, when it answers 404 to
 *                everyone (admins included), as if it did not exist
 */
@Validated
@ConfigurationProperties("steadyrun.chaos")
public record ChaosProperties(@DefaultValue("false") boolean enabled) {
}
