package dev.steadyrun.agent.report;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLine;
import dev.steadyrun.protocol.TrainerReport;

/**
 * Trainer lines waiting to be sent, in order, kept across orchestrator outages. Bounded: when full, the oldest
 * step line is dropped and counted (the count travels in the next report of its generation); checkpoint lines
 * are never dropped, since the orchestrator picks restore points from them.
 */
public final class ReportBuffer {

    /** Whose trainer a line came from: reports are fenced per generation. */
    public record Source(UUID runId, int rank, long generation) {
    }

    /** A report ready to send; hand it back to {@link #sent} once the orchestrator took it. */
    public record Batch(Source source, TrainerReport report, long lastSeq) {
    }

    private record Entry(long seq, Source source, TrainerLine line) {
    }

    private final int capacity;
    private final int batchSize;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private final Map<Source, Long> dropped = new HashMap<>();
    private long nextSeq;
    private long droppedTotal;

    public ReportBuffer(int capacity, int batchSize) {
        this.capacity = capacity;
        this.batchSize = batchSize;
    }

    public synchronized void add(Source source, TrainerLine line) {
        entries.addLast(new Entry(nextSeq++, source, line));
        if (entries.size() > capacity) {
            dropOldestStep();
        }
    }

    private void dropOldestStep() {
        for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.line() instanceof StepMetrics) {
                it.remove();
                dropped.merge(e.source(), 1L, Long::sum);
                droppedTotal++;
                return;
            }
        }
        // Only checkpoint lines left: keep them all, over capacity.
    }

    /** The oldest lines of one source, up to the batch size, or empty when nothing waits. */
    public synchronized Optional<Batch> next() {
        Entry first = entries.peekFirst();
        if (first == null) {
            return Optional.empty();
        }
        List<StepMetrics> steps = new ArrayList<>();
        List<CheckpointWritten> checkpoints = new ArrayList<>();
        long lastSeq = first.seq();
        int n = 0;
        for (Entry e : entries) {
            if (!e.source().equals(first.source()) || n == batchSize) {
                break;
            }
            if (e.line() instanceof StepMetrics step) {
                steps.add(step);
            } else {
                checkpoints.add((CheckpointWritten) e.line());
            }
            lastSeq = e.seq();
            n++;
        }
        Source s = first.source();
        long droppedSteps = dropped.getOrDefault(s, 0L);
        return Optional.of(new Batch(s, new TrainerReport(s.runId(), s.rank(), s.generation(), steps, checkpoints,
                droppedSteps), lastSeq));
    }

    /** The orchestrator accepted the batch: forget its lines and the drop count it carried. */
    public synchronized void sent(Batch batch) {
        while (!entries.isEmpty() && entries.peekFirst().seq() <= batch.lastSeq()) {
            entries.removeFirst();
        }
        dropped.computeIfPresent(batch.source(), (k, v) -> v - batch.report().droppedSteps() <= 0 ? null
                : v - batch.report().droppedSteps());
    }

    /** The generation is fenced (409): its lines will never be accepted. */
    public synchronized void discard(Source source) {
        entries.removeIf(e -> e.source().equals(source));
        dropped.remove(source);
    }

    public synchronized int size() {
        return entries.size();
    }

    public synchronized long droppedTotal() {
        return droppedTotal;
    }
}
