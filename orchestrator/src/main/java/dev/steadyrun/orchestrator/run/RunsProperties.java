package dev.steadyrun.orchestrator.run;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Run settings ({@code steadyrun.runs.*}); the defaults live here and nowhere else.
 *
 * @param checkpointRoot   where runs write checkpoints unless their spec names a location (each run gets
 *                         {@code <location>/<run id>}); a path every node sees, such as a shared file system
 * @param maxMetricPoints  the most points one metrics query may ask for
 */
@Validated
@ConfigurationProperties("steadyrun.runs")
public record RunsProperties(
        @NotBlank @DefaultValue("/var/lib/steadyrun/checkpoints") String checkpointRoot,
        @Min(10) @Max(100_000) @DefaultValue("10000") int maxMetricPoints) {
}
