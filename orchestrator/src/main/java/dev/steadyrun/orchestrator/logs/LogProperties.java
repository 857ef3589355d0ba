package dev.steadyrun.orchestrator.logs;

import java.time.Duration;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The live trainer logs ({@code steadyrun.logs.*}), kept in memory: the worst case is {@code maxChars} characters
 * (each line is at most {@code TrainerLogBatch.MAX_LINE_CHARS}).
 *
 * @param windowLines   the most recent lines kept per run, rank and generation
 * @param maxWindows    the most windows kept; beyond it, the one written least recently goes
 * @param maxChars      the most characters kept in all windows together; beyond it, the same
 * @param maxFollowers  the most open {@code follow=true} streams; one more is refused with 503
 * @param keepalive     how often a quiet stream gets a comment, which also finds readers that went away
 * @param followTimeout how long one stream lasts before it ends with {@code event: end} (the reader reconnects with
 *                      {@code after=}); a revoked token is refused at that reconnection
 */
@Validated
@ConfigurationProperties("steadyrun.logs")
public record LogProperties(@Min(10) @Max(100_000) @DefaultValue("1000") int windowLines,
                            @Min(1) @Max(100_000) @DefaultValue("256") int maxWindows,
                            @Min(100_000) @DefaultValue("16000000") long maxChars,
                            @Min(1) @Max(10_000) @DefaultValue("64") int maxFollowers,
                            @NotNull @DefaultValue("15s") Duration keepalive,
                            @NotNull @DefaultValue("10m") Duration followTimeout) {
}
