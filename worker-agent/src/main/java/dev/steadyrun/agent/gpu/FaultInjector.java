package dev.steadyrun.agent.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.GpuHealth;

/**
 * TEST TOOL — makes a node report GPU faults it does not have, to exercise the orchestrator's fault handling
 * end to end: from the file named by {@code --fault-file PATH}, and from the orchestrator's chaos API
 * ({@link #inject}). Each heartbeat reads the file, if there is one and it exists, and deletes it (a fault is
 * consumed once). One fault per line:
 * <pre>
 *   xid 79 gpu=0                 an XID event in this heartbeat
 *   ecc-uncorrectable 3 gpu=1    adds to the cumulative uncorrectable ECC count (stays added)
 *   ecc-correctable 100 gpu=0
 *   retired-pages 2 gpu=0
 *   temperature 97 gpu=0         overrides the temperature in this heartbeat
 * </pre>
 * Blank lines and {@code #} comments are ignored; bad lines are logged with their number and skipped.
 */
public final class FaultInjector {

    private static final Logger log = LoggerFactory.getLogger(FaultInjector.class);

    private record Fault(String kind, long value, int gpu) {
    }

    /** Null: only injected faults. */
    private final Path file;
    private final List<Fault> injected = new ArrayList<>();
    /** Cumulative counters only grow: injected ECC errors and retired pages stay added. */
    private final Map<Integer, long[]> added = new HashMap<>();

    public FaultInjector(Path file) {
        this.file = file;
    }

    /** Adds a fault (a line of the file's format) to the next heartbeat. */
    public synchronized void inject(String line) {
        injected.add(parse(line));
        log.warn("TEST TOOL fault injection: {}", line);
    }

    public synchronized List<GpuHealth> apply(List<GpuHealth> readings) {
        List<Fault> faults = consume();
        faults.addAll(injected);
        injected.clear();
        Map<Integer, List<Integer>> xids = new HashMap<>();
        Map<Integer, Double> temperatures = new HashMap<>();
        for (Fault f : faults) {
            if (readings.stream().noneMatch(g -> g.index() == f.gpu())) {
                log.warn("fault file: gpu={} does not exist on this node ({} GPUs); fault ignored", f.gpu(),
                        readings.size());
                continue;
            }
            long[] sums = added.computeIfAbsent(f.gpu(), k -> new long[3]);
            switch (f.kind()) {
                case "xid" -> xids.computeIfAbsent(f.gpu(), k -> new ArrayList<>()).add((int) f.value());
                case "ecc-correctable" -> sums[0] += f.value();
                case "ecc-uncorrectable" -> sums[1] += f.value();
                case "retired-pages" -> sums[2] += f.value();
                case "temperature" -> temperatures.put(f.gpu(), (double) f.value());
                default -> throw new IllegalStateException(f.kind());
            }
        }
        List<GpuHealth> out = new ArrayList<>(readings.size());
        for (GpuHealth g : readings) {
            long[] sums = added.getOrDefault(g.index(), new long[3]);
            List<Integer> xid = new ArrayList<>(g.xidErrors());
            xid.addAll(xids.getOrDefault(g.index(), List.of()));
            out.add(new GpuHealth(g.index(), temperatures.getOrDefault(g.index(), g.temperatureC()),
                    g.memoryUsedMiB(), g.memoryTotalMiB(), g.utilizationPct(), g.eccCorrectable() + sums[0],
                    g.eccUncorrectable() + sums[1], g.retiredPages() + sums[2], List.copyOf(xid), g.nvlinkErrors()));
        }
        return out;
    }

    private List<Fault> consume() {
        if (file == null) {
            return new ArrayList<>();
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
            Files.delete(file);
        } catch (NoSuchFileException e) {
            return new ArrayList<>();
        } catch (IOException e) {
            log.warn("fault file {} unreadable: {}", file, e.toString());
            return new ArrayList<>();
        }
        List<Fault> faults = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            try {
                faults.add(parse(line));
                log.warn("TEST TOOL fault injection: {}", line);
            } catch (IllegalArgumentException e) {
                log.warn("fault file {} line {}: {} ('{}'), skipped", file, i + 1, e.getMessage(), line);
            }
        }
        return faults;
    }

    static Fault parse(String line) {
        String[] f = line.split("\\s+");
        if (f.length != 3 || !f[2].startsWith("gpu=")) {
            throw new IllegalArgumentException("expected '<kind> <number> gpu=<index>'");
        }
        if (!List.of("xid", "ecc-correctable", "ecc-uncorrectable", "retired-pages", "temperature").contains(f[0])) {
            throw new IllegalArgumentException("unknown fault kind '" + f[0]
                    + "' (xid, ecc-correctable, ecc-uncorrectable, retired-pages, temperature)");
        }
        try {
            long value = Long.parseLong(f[1]);
            int gpu = Integer.parseInt(f[2].substring(4));
            if (value < 0 || gpu < 0) {
                throw new IllegalArgumentException("numbers must not be negative");
            }
            return new Fault(f[0], value, gpu);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a whole number");
        }
    }
}
