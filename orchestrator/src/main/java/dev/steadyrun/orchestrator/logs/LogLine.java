package dev.steadyrun.orchestrator.logs;

import java.time.Instant;

import dev.steadyrun.protocol.TrainerLogBatch;

/** One trainer log line as the API shows it; {@code seq} numbers the lines of one rank's generation from 0. */
public record LogLine(long seq, Instant at, TrainerLogBatch.Stream stream, String text) {
}
