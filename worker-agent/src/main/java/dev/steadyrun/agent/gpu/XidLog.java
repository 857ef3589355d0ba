package dev.steadyrun.agent.gpu;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * XID events from the kernel log. The NVIDIA driver reports them only there, as
 * {@code NVRM: Xid (PCI:0000:3b:00): 79, pid=…, GPU has fallen off the bus.}; {@code nvidia-smi}'s query mode
 * does not show them. A daemon thread follows {@code /dev/kmsg} (one record per read, blocking for the next) and
 * keeps the events newer than the agent's start, keyed by GPU index through the PCI bus ids nvidia-smi gave.
 */
final class XidLog {

    private static final Logger log = LoggerFactory.getLogger(XidLog.class);
    private static final Pattern XID = Pattern.compile("NVRM: Xid \\(PCI:([0-9a-fA-F:.]+)\\): (\\d+)");

    record Event(String busId, int code) {
    }

    private final Map<String, Integer> indexByBus;
    private final Map<Integer, List<Integer>> pending = new HashMap<>();

    private XidLog(Map<String, Integer> indexByBus) {
        this.indexByBus = indexByBus;
    }

    /**
     * Follows {@code source} from a daemon thread. Records stamped (microseconds since boot, /dev/kmsg's format)
     * before {@code sinceMicros} are skipped: they happened before the agent started and were reported then.
     */
    static XidLog follow(Path source, Map<String, Integer> indexByBus, long sinceMicros) {
        XidLog xids = new XidLog(indexByBus);
        Thread t = new Thread(() -> xids.read(source, sinceMicros), "xid-log");
        t.setDaemon(true);
        t.start();
        return xids;
    }

    private void read(Path source, long sinceMicros) {
        long lastSeq = -1; // a re-open reads the ring buffer from its start again: skip what was read
        while (true) {
            try (BufferedReader r = Files.newBufferedReader(source, StandardCharsets.UTF_8)) {
                for (String line; (line = r.readLine()) != null; ) {
                    long seq = field(line, 1);
                    if (seq >= 0 && seq <= lastSeq) {
                        continue;
                    }
                    lastSeq = Math.max(lastSeq, seq);
                    if (field(line, 2) >= sinceMicros) {
                        parse(line).ifPresent(this::add);
                    }
                }
                return; // a regular file ended; /dev/kmsg blocks instead
            } catch (java.nio.file.NoSuchFileException | java.nio.file.AccessDeniedException e) {
                log.warn("XID events unavailable: cannot read {} ({}); GPU faults show only in ECC and health "
                        + "counters", source, e.toString());
                return;
            } catch (IOException e) {
                // /dev/kmsg answers EPIPE when records were overwritten before we read them: open it again
                log.debug("re-opening {} after {}", source, e.toString());
            }
        }
    }

    private synchronized void add(Event e) {
        Integer index = indexByBus.get(normalize(e.busId()));
        if (index == null) {
            log.warn("XID {} on unknown PCI bus {}", e.code(), e.busId());
            return;
        }
        log.warn("GPU {} reported XID {}", index, e.code());
        pending.computeIfAbsent(index, k -> new ArrayList<>()).add(e.code());
    }

    /** XIDs seen since the previous call, by GPU index. */
    synchronized Map<Integer, List<Integer>> drain() {
        Map<Integer, List<Integer>> out = Map.copyOf(pending);
        pending.clear();
        return out;
    }

    static Optional<Event> parse(String line) {
        Matcher m = XID.matcher(line);
        return m.find() ? Optional.of(new Event(m.group(1), Integer.parseInt(m.group(2)))) : Optional.empty();
    }

    /** {@code 00000000:3B:00.0} (nvidia-smi) and {@code 0000:3b:00} (kernel log) name the same device. */
    static String normalize(String busId) {
        String s = busId.toLowerCase(Locale.ROOT);
        int dot = s.lastIndexOf('.');
        if (dot > s.lastIndexOf(':')) {
            s = s.substring(0, dot);
        }
        String[] parts = s.split(":");
        if (parts.length == 3) {
            String domain = parts[0].replaceFirst("^0+", "");
            return (domain.isEmpty() ? "0" : domain) + ":" + parts[1] + ":" + parts[2];
        }
        return s;
    }

    /** Microseconds since boot of a /dev/kmsg record ({@code pri,seq,usec,flags;text}); -1 for other lines. */
    static long timestampMicros(String line) {
        return field(line, 2);
    }

    private static long field(String line, int index) {
        int semi = line.indexOf(';');
        String[] head = (semi < 0 ? "" : line.substring(0, semi)).split(",");
        try {
            return head.length > index ? Long.parseLong(head[index]) : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
