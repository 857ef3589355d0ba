package dev.steadyrun.orchestrator.scheduling;

import java.time.Duration;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Scheduling settings ({@code steadyrun.scheduling.*}); the defaults live here and nowhere else.
 *
 * @param rendezvousPort  the port on rank 0's node where the ranks of a data-parallel run meet
 * @param passInterval    how often pending runs are placed and stopping runs settled, besides on every change
 */
@Validated
@ConfigurationProperties("steadyrun.scheduling")
public record SchedulingProperties(
        @Min(1) @Max(65535) @DefaultValue("29500") int rendezvousPort,
        @NotNull @DefaultValue("2s") Duration passInterval) {
}
