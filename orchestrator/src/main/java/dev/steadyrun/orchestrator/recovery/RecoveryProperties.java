package dev.steadyrun.orchestrator.recovery;

import java.time.Duration;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * Recovery settings ({@code steadyrun.recovery.*}); the defaults live here and nowhere else. The thresholds are
 * per run, in its recovery policy ({@link RecoveryPolicy}).
 *
 * @param watchInterval how often the hang backstop looks at every live run's progress and the goodput gauges
 *                      are refreshed
 * @param watchEnabled  off in tests, which call {@link ProgressWatch#watch} with their clock
 * @param hangBackstopGrace how much longer than the hang limit the orchestrator's backstop waits: the agent's own
 *                      watchdog (same limit, closer to the trainer) should act first, since only it can take a
 *                      thread dump
 */
@Validated
@ConfigurationProperties("steadyrun.recovery")
public record RecoveryProperties(
        @NotNull @DefaultValue("1s") Duration watchInterval,
        @DefaultValue("true") boolean watchEnabled,
        @NotNull @DefaultValue("30s") Duration hangBackstopGrace) {
}
