package dev.steadyrun.orchestrator.logs;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

import org.springframework.stereotype.Component;

import dev.steadyrun.protocol.TrainerLogBatch;

/**
 * The recent window of each run's, rank's and generation's trainer log, in memory and bounded (lines per window,
 * windows, characters in all). In memory because a live view needs the last minutes, not an archive: the whole log
 * stays in the node's trainer log file, and a failed trainer's last lines in its incident. After a restart or a
 * fail-over the new active orchestrator shows the lines that arrive from then on (docs/runs.md).
 */
@Component
public class LogWindows {

    /** Whose log: one window per key. */
    public record Key(UUID runId, int rank, long generation) {
    }

    /** A read: lines after the cursor, what the window no longer holds, and whether a newer generation began. */
    record Read(List<LogLine> lines, long droppedLines, long missedLines, boolean superseded) {
    }

    private static final class Window {
        final ArrayDeque<LogLine> lines = new ArrayDeque<>();
        /** The seq the next new line must have at least: lower ones were seen (a resent batch). */
        long nextSeq;
        long dropped;
        long chars;
    }

    private final LogProperties props;
    /** In order of last append (access order), so the first is the one written least recently. */
    private final LinkedHashMap<Key, Window> windows = new LinkedHashMap<>(16, 0.75f, true);
    /** The newest generation that sent lines, per run: older windows of the run are superseded. */
    private final Map<UUID, Long> newestGeneration = new HashMap<>();
    private long chars;
    private volatile Consumer<Key> onAppend = k -> { };

    LogWindows(LogProperties props) {
        this.props = props;
    }

    /** Called after each append that changed a window (outside the lock), to wake the window's readers. */
    void onAppend(Consumer<Key> listener) {
        this.onAppend = listener;
    }

    /**
     * Adds an agent's batch; lines whose seq the window already passed are skipped (a batch sent twice).
     *
     * @param droppedLines the agent's running total of this window's dropped lines
     */
    public void append(Key key, List<TrainerLogBatch.Line> lines, long droppedLines) {
        List<Key> superseded = new ArrayList<>();
        synchronized (this) {
            Window w = windows.get(key);
            if (w == null) {
                w = new Window();
                windows.put(key, w);
            }
            w.dropped = Math.max(w.dropped, droppedLines); // a running total: a resent batch counts nothing twice
            for (TrainerLogBatch.Line line : lines) {
                if (line.seq() < w.nextSeq) {
                    continue;
                }
                w.lines.addLast(new LogLine(line.seq(), line.at(), line.stream(), line.text()));
                w.nextSeq = line.seq() + 1;
                w.chars += line.text().length();
                chars += line.text().length();
                if (w.lines.size() > props.windowLines()) {
                    LogLine gone = w.lines.removeFirst();
                    w.chars -= gone.text().length();
                    chars -= gone.text().length();
                }
            }
            Long newest = newestGeneration.get(key.runId());
            if (newest == null || key.generation() > newest) {
                newestGeneration.put(key.runId(), key.generation());
                for (Key k : windows.keySet()) { // their readers learn that the run moved on
                    if (k.runId().equals(key.runId()) && k.generation() < key.generation()) {
                        superseded.add(k);
                    }
                }
            }
            evict(key);
        }
        onAppend.accept(key);
        superseded.forEach(onAppend);
    }

    /** Over a bound: the windows written least recently go, never the one just written. */
    private void evict(Key keep) {
        Iterator<Map.Entry<Key, Window>> it = windows.entrySet().iterator();
        while ((windows.size() > props.maxWindows() || chars > props.maxChars()) && it.hasNext()) {
            Map.Entry<Key, Window> e = it.next();
            if (e.getKey().equals(keep)) {
                continue;
            }
            chars -= e.getValue().chars;
            it.remove();
            UUID run = e.getKey().runId();
            if (windows.keySet().stream().noneMatch(k -> k.runId().equals(run))) {
                newestGeneration.remove(run);
            }
        }
    }

    /**
     * Up to {@code limit} lines with a seq above {@code after} (-1: from the oldest kept), oldest first. Reading does
     * not count as writing: a window read often but not written still goes first.
     */
    synchronized Read read(Key key, long after, int limit) {
        Window w = windows.entrySet().stream().filter(e -> e.getKey().equals(key)).map(Map.Entry::getValue)
                .findFirst().orElse(null); // not windows.get: that would move it in the access order
        Long newest = newestGeneration.get(key.runId());
        boolean superseded = newest != null && newest > key.generation();
        if (w == null) {
            return new Read(List.of(), 0, 0, superseded);
        }
        List<LogLine> out = new ArrayList<>();
        long firstKept = w.lines.isEmpty() ? w.nextSeq : w.lines.peekFirst().seq();
        for (LogLine line : w.lines) {
            if (line.seq() > after) {
                out.add(line);
                if (out.size() == limit) {
                    break;
                }
            }
        }
        // lines the agent sent that this reader will never see: those between its cursor and the window's start
        long missed = Math.max(0, firstKept - (after + 1));
        return new Read(out, w.dropped, missed, superseded);
    }

    synchronized int size() {
        return windows.size();
    }

    synchronized long chars() {
        return chars;
    }
}
