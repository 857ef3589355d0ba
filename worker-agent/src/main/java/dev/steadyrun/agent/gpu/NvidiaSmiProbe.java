package dev.steadyrun.agent.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;

/**
 * GPU inventory and health from {@code nvidia-smi} in query mode (CSV, no units). Counters that a GPU does not
 * support ({@code [N/A]}, {@code [Not Supported]}) read as 0. XID events are not part of nvidia-smi's query
 * output: the driver logs them to the kernel log, which {@link XidLog} follows. Every call of nvidia-smi has a hard
 * deadline: past it, nvidia-smi and everything it started are killed and the call counts as failed.
 */
public final class NvidiaSmiProbe implements GpuProbe {

    private static final Logger log = LoggerFactory.getLogger(NvidiaSmiProbe.class);

    static final String INVENTORY_FIELDS = "index,uuid,name,memory.total";
    static final String HEALTH_FIELDS = "index,temperature.gpu,memory.used,memory.total,utilization.gpu,"
            + "ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total,"
            + "retired_pages.single_bit_ecc.count,retired_pages.double_bit.count";

    static final String BUS_FIELDS = "index,pci.bus_id";

    private final String executable;
    private final Duration timeout;
    private XidLog xids;

    private NvidiaSmiProbe(String executable, Duration timeout) {
        this.executable = executable;
        this.timeout = timeout;
    }

    /**
     * The probe when {@code nvidia-smi} runs and lists at least one GPU; otherwise the node is CPU-only.
     *
     * @param kernelLog where XID events are followed from ({@code /dev/kmsg})
     * @param timeout   the hard deadline of one nvidia-smi call
     */
    public static GpuProbe detect(String executable, Path kernelLog, Duration timeout) {
        NvidiaSmiProbe probe = new NvidiaSmiProbe(executable, timeout);
        Optional<String> out = probe.query(INVENTORY_FIELDS);
        if (out.isEmpty() || parseInventory(out.get()).isEmpty()) {
            log.info("no GPU found through {}: this node reports CPU-only", executable);
            return CPU_ONLY;
        }
        Map<String, Integer> indexByBus = new HashMap<>();
        probe.query(BUS_FIELDS).ifPresent(csv -> rows(csv, 2).forEach(
                f -> indexByBus.put(XidLog.normalize(f[1]), (int) number(f[0]))));
        probe.xids = XidLog.follow(kernelLog, indexByBus, uptimeMicros());
        return probe;
    }

    private static long uptimeMicros() {
        try {
            String up = Files.readString(Path.of("/proc/uptime")).split("\\s+")[0];
            return (long) (Double.parseDouble(up) * 1_000_000);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    @Override
    public List<GpuInfo> inventory() {
        return query(INVENTORY_FIELDS).map(NvidiaSmiProbe::parseInventory).orElse(List.of());
    }

    @Override
    public List<GpuHealth> readings() {
        return query(HEALTH_FIELDS).map(NvidiaSmiProbe::parseHealth).orElse(List.of());
    }

    @Override
    public Map<Integer, List<Integer>> xids() {
        return xids == null ? Map.of() : xids.drain();
    }

    private Optional<String> query(String fields) {
        Path output = null;
        try {
            // into a file, not a pipe: reading a pipe blocks for as long as a wedged nvidia-smi (or anything it
            // started) holds it open, which no timeout on waitFor bounds
            output = Files.createTempFile("steadyrun-nvidia-smi-", ".csv");
            Process p = new ProcessBuilder(executable, "--query-gpu=" + fields, "--format=csv,noheader,nounits")
                    .redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                killTree(p);
                log.warn("{} did not answer within {}: killed it", executable, timeout);
                return Optional.empty();
            }
            String out = new String(Files.readAllBytes(output), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                log.warn("{} exited {}: {}", executable, p.exitValue(), out.strip());
                return Optional.empty();
            }
            return Optional.of(out);
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException ignored) {
                    // a stray temporary file is not worth a failed reading
                }
            }
        }
    }

    /** Children first: once the parent is gone they are re-parented and no longer its descendants. */
    private static void killTree(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    static List<GpuInfo> parseInventory(String csv) {
        List<GpuInfo> gpus = new ArrayList<>();
        for (String[] f : rows(csv, 4)) {
            gpus.add(new GpuInfo((int) number(f[0]), f[1], f[2], number(f[3])));
        }
        return gpus;
    }

    static List<GpuHealth> parseHealth(String csv) {
        List<GpuHealth> gpus = new ArrayList<>();
        for (String[] f : rows(csv, 9)) {
            gpus.add(new GpuHealth((int) number(f[0]), decimal(f[1]), number(f[2]), number(f[3]), decimal(f[4]),
                    number(f[5]), number(f[6]), number(f[7]) + number(f[8]), List.of(), 0));
        }
        return gpus;
    }

    private static List<String[]> rows(String csv, int columns) {
        List<String[]> rows = new ArrayList<>();
        for (String line : csv.split("\\R")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(",", -1);
            if (f.length != columns) {
                log.warn("ignoring nvidia-smi line with {} fields instead of {}: {}", f.length, columns, line);
                continue;
            }
            for (int i = 0; i < f.length; i++) {
                f[i] = f[i].trim();
            }
            rows.add(f);
        }
        return rows;
    }

    private static long number(String s) {
        return (long) decimal(s);
    }

    private static double decimal(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return 0; // [N/A], [Not Supported]
        }
    }
}
