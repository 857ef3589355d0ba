package dev.steadyrun.orchestrator.web;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * API edge settings ({@code steadyrun.api.*}).
 *
 * @param maxBodySize request bodies above this are refused with 413 before they are read
 */
@Validated
@ConfigurationProperties("steadyrun.api")
public record ApiProperties(@NotNull @DefaultValue("1MB") DataSize maxBodySize) {
}
