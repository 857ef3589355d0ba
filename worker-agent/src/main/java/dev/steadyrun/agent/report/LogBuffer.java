package dev.steadyrun.agent.report;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.steadyrun.protocol.TrainerLogBatch;

/**
 * Trainer log lines waiting to be sent for the live log view. The trainer's pipe readers only {@link #add} (a short
 * lock, never a wait): when the buffer is full the oldest line is dropped and counted, and the count travels in the
 * batches of its generation as a running total. Lines are cleaned ({@link TrainerLogBatch#clean}) so no line is
 * longer than the cap.
 */
public final class LogBuffer {

    /** A batch ready to send; hand it back to {@link #sent} once the orchestrator took it. */
    public record Batch(ReportBuffer.Source source, TrainerLogBatch batch, long lastOrder) {
    }

    private record Entry(long order, ReportBuffer.Source source, TrainerLogBatch.Line line) {
    }

    private final int capacity;
    /** Generations whose drop counts are kept: a node runs one at a time, so a few cover any batch still unsent. */
    private static final int COUNTED_SOURCES = 64;

    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    /** Lines dropped so far per generation (a running total), the one used least recently forgotten beyond 64. */
    private final Map<ReportBuffer.Source, Long> dropped = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ReportBuffer.Source, Long> eldest) {
            return size() > COUNTED_SOURCES;
        }
    };
    private long nextOrder;
    private long droppedTotal;

    /** @param capacity the most lines kept unsent (each at most {@link TrainerLogBatch#MAX_LINE_CHARS} long) */
    public LogBuffer(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
    }

    /** @param seq the line's number in its generation's log, counted by the caller from 0 */
    public void add(ReportBuffer.Source source, TrainerLogBatch.Stream stream, String raw, long seq, Instant at) {
        TrainerLogBatch.Line line = new TrainerLogBatch.Line(seq, at, stream, TrainerLogBatch.clean(raw));
        synchronized (this) {
            entries.addLast(new Entry(nextOrder++, source, line));
            if (entries.size() > capacity) {
                Entry oldest = entries.removeFirst();
                dropped.merge(oldest.source(), 1L, Long::sum);
                droppedTotal++;
            }
        }
    }

    /**
     * The oldest lines of one source, up to {@link TrainerLogBatch#MAX_LINES} and {@link
     * TrainerLogBatch#MAX_BATCH_CHARS}, or empty when nothing waits.
     */
    public synchronized Optional<Batch> next() {
        Entry first = entries.peekFirst();
        if (first == null) {
            return Optional.empty();
        }
        List<TrainerLogBatch.Line> lines = new ArrayList<>();
        long lastOrder = first.order();
        int chars = 0;
        for (Entry e : entries) {
            chars += e.line().text().length();
            if (!e.source().equals(first.source()) || lines.size() == TrainerLogBatch.MAX_LINES
                    || (chars > TrainerLogBatch.MAX_BATCH_CHARS && !lines.isEmpty())) {
                break;
            }
            lines.add(e.line());
            lastOrder = e.order();
        }
        ReportBuffer.Source s = first.source();
        return Optional.of(new Batch(s, new TrainerLogBatch(s.runId(), s.rank(), s.generation(), lines,
                dropped.getOrDefault(s, 0L)), lastOrder));
    }

    /** The orchestrator took the batch (or can never take it): forget its lines. */
    public synchronized void sent(Batch batch) {
        while (!entries.isEmpty() && entries.peekFirst().order() <= batch.lastOrder()) {
            entries.removeFirst();
        }
    }

    /** The generation is fenced (409): its lines will never be accepted. */
    public synchronized void discard(ReportBuffer.Source source) {
        entries.removeIf(e -> e.source().equals(source));
        dropped.remove(source);
    }

    public synchronized int size() {
        return entries.size();
    }

    /** Lines dropped since the agent started, all generations together. */
    public synchronized long droppedTotal() {
        return droppedTotal;
    }
}
