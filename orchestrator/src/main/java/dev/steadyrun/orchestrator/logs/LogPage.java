package dev.steadyrun.orchestrator.logs;

import java.util.List;
import java.util.UUID;

/**
 * The recent log of one rank of one generation.
 *
 * @param droppedLines lines the agent dropped before sending (its buffer was full); they never reached the
 *                     orchestrator
 * @param missedLines  lines that reached the orchestrator but left its window before this read asked for them
 *                     (the window keeps the most recent lines only)
 * @param next         pass as {@code after} to get only later lines; null when no line came yet
 */
public record LogPage(UUID runId, int rank, long generation, long droppedLines, long missedLines,
                      List<LogLine> lines, Long next) {
}
