package dev.steadyrun.protocol;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A batch of a trainer's log lines (stderr, and stdout lines that are not metric lines), forwarded by its agent to
 * {@code POST /api/v1/agents/{nodeId}/logs} for the live log view. Fenced like {@link TrainerReport}: only the node
 * that holds the rank of the current generation may send it, else 409.
 *
 * @param lines        in the order the trainer printed them, at most {@link #MAX_LINES}
 * @param droppedLines lines of this generation the agent dropped so far because its bounded buffer was full (the
 *                     trainer printed faster than the orchestrator took them, or during an outage): a running total,
 *                     so a batch sent twice (its answer lost) counts nothing twice; absent means 0
 */
public record TrainerLogBatch(UUID runId, int rank, long generation, List<Line> lines, Long droppedLines) {

    /** The most lines in one batch. */
    public static final int MAX_LINES = 500;
    /**
     * The most characters of text in one batch: with at most 3 bytes of UTF-8 per character and the JSON around each
     * line, a batch stays well under the API's 1 MB body limit.
     */
    public static final int MAX_BATCH_CHARS = 250_000;
    /** The longest line, in UTF-16 chars, the marker of a cut line included: longer lines are cut by the agent. */
    public static final int MAX_LINE_CHARS = 2000;
    /** What ends a line the agent cut at {@link #MAX_LINE_CHARS}. */
    public static final String CUT_MARKER = " [cut]";

    public enum Stream { STDOUT, STDERR }

    /**
     * @param seq    the line's number within its generation's log on this rank, from 0, without gaps but for
     *               dropped lines; the orchestrator ignores a line whose seq it already holds (a resent batch)
     * @param at     when the agent read it (the node's clock: for display only)
     */
    public record Line(long seq, Instant at, Stream stream, String text) {
    }

    public TrainerLogBatch {
        lines = lines == null ? List.of() : lines;
        droppedLines = droppedLines == null ? 0L : droppedLines;
    }

    /**
     * A printable line of at most {@link #MAX_LINE_CHARS}: control characters other than tab become U+FFFD (a log
     * line must not drive a reader's terminal, and the API refuses NUL), and a longer line is cut, never inside a
     * surrogate pair, and marked with {@link #CUT_MARKER}.
     */
    public static String clean(String raw) {
        String text = raw;
        if (text.length() > MAX_LINE_CHARS) {
            int end = MAX_LINE_CHARS - CUT_MARKER.length();
            if (Character.isHighSurrogate(text.charAt(end - 1))) {
                end--;
            }
            text = text.substring(0, end) + CUT_MARKER;
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                if (out == null) {
                    out = new StringBuilder(text);
                }
                out.setCharAt(i, '\uFFFD');
            }
        }
        return out == null ? text : out.toString();
    }
}
