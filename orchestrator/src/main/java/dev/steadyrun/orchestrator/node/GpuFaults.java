package dev.steadyrun.orchestrator.node;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuProbeFault;

/**
 * Classifies a heartbeat's GPU health: XID codes from NVIDIA's XID catalogue, and counters that rose since the
 * node's previous heartbeat. FATAL fails the node, DEGRADED makes it SUSPECT, APPLICATION is the user's program
 * (it fails the run, not the node) and is ignored here.
 */
public final class GpuFaults {

    public enum Severity { APPLICATION, DEGRADED, FATAL }

    /** One catalogued XID. */
    public record Xid(int code, Severity severity, String meaning) {
    }

    /** The verdict for a heartbeat: the worst fault found, with a reason naming the GPU. */
    public record Fault(Severity severity, String reason) {
    }

    private static final Map<Integer, Xid> CATALOGUE = new HashMap<>();

    static {
        // Application errors: the driver reports a fault of the program, the GPU itself is fine.
        app(13, "graphics engine exception (illegal instruction or out-of-range access in a kernel)");
        app(31, "GPU memory page fault (the program touched an invalid address)");
        app(43, "GPU stopped processing (the program hit a software-induced fault)");
        app(45, "preemptive cleanup after a previous error (the process was killed or crashed)");
        app(69, "graphics engine class error (bad method sent by the program)");
        // Degraded: the GPU still works, but something is wearing or was contained; watch the node.
        deg(61, "internal micro-controller breakpoint/warning");
        deg(63, "ECC page retirement or row remapping recorded; takes effect after a GPU reset");
        deg(92, "high single-bit ECC error rate (corrected errors)");
        deg(94, "contained ECC error: only the affected application was stopped");
        deg(121, "C2C (chip-to-chip) link corrected error");
        // Fatal: the GPU cannot be trusted until it is reset or repaired.
        fatal(48, "double-bit (uncorrectable) ECC error");
        fatal(62, "internal micro-controller halt");
        fatal(64, "ECC page retirement or row remapping failed");
        fatal(74, "NVLink error (link down or fatal link error)");
        fatal(79, "GPU has fallen off the bus");
        fatal(95, "uncontained ECC error: every application on the GPU is affected, reset needed");
        fatal(119, "GSP (GPU system processor) RPC timeout");
        fatal(120, "GSP (GPU system processor) error");
        fatal(140, "unrecovered ECC error");
        fatal(154, "GPU recovery action: reset or node reboot required");
    }

    private GpuFaults() {
    }

    private static void app(int code, String meaning) {
        CATALOGUE.put(code, new Xid(code, Severity.APPLICATION, meaning));
    }

    private static void deg(int code, String meaning) {
        CATALOGUE.put(code, new Xid(code, Severity.DEGRADED, meaning));
    }

    private static void fatal(int code, String meaning) {
        CATALOGUE.put(code, new Xid(code, Severity.FATAL, meaning));
    }

    /** An XID not in the catalogue is DEGRADED: worth a look, not worth failing a node over. */
    public static Xid classify(int code) {
        Xid known = CATALOGUE.get(code);
        return known != null ? known : new Xid(code, Severity.DEGRADED, "XID not in the catalogue");
    }

    /**
     * The worst fault in {@code current}, comparing counters with {@code previous} (the node's last heartbeat;
     * null when there was none since the orchestrator started, so nothing can have "risen").
     */
    public static Optional<Fault> assess(List<GpuHealth> previous, List<GpuHealth> current) {
        Fault worst = null;
        for (GpuHealth gpu : current) {
            if (gpu.xidErrors() != null) {
                for (Integer code : gpu.xidErrors()) {
                    Xid xid = classify(code);
                    if (xid.severity() != Severity.APPLICATION) {
                        worst = worse(worst, new Fault(xid.severity(),
                                "GPU " + gpu.index() + ": XID " + code + " (" + xid.meaning() + ")"));
                    }
                }
            }
            GpuHealth before = previous == null ? null : byIndex(previous, gpu.index());
            if (before != null) {
                if (gpu.eccUncorrectable() > before.eccUncorrectable()) {
                    worst = worse(worst, new Fault(Severity.FATAL, "GPU " + gpu.index()
                            + ": uncorrectable ECC errors rose from " + before.eccUncorrectable() + " to "
                            + gpu.eccUncorrectable()));
                }
                if (gpu.nvlinkErrors() > before.nvlinkErrors()) {
                    worst = worse(worst, new Fault(Severity.DEGRADED, "GPU " + gpu.index()
                            + ": NVLink errors rose from " + before.nvlinkErrors() + " to " + gpu.nvlinkErrors()));
                }
                if (gpu.retiredPages() > before.retiredPages()) {
                    worst = worse(worst, new Fault(Severity.DEGRADED, "GPU " + gpu.index()
                            + ": retired pages rose from " + before.retiredPages() + " to " + gpu.retiredPages()));
                }
            }
        }
        return Optional.ofNullable(worst);
    }

    /**
     * As {@link #assess(List, List)}, with the agent's word that its GPU probe is stale: a probe that hangs or fails
     * is a fault of the severity the agent's thresholds gave it.
     */
    public static Optional<Fault> assess(List<GpuHealth> previous, List<GpuHealth> current, GpuProbeFault probe) {
        Fault worst = assess(previous, current).orElse(null);
        if (probe != null) {
            worst = worse(worst, new Fault(probe.severity() == GpuProbeFault.Severity.FATAL ? Severity.FATAL
                    : Severity.DEGRADED, "GPU probe: no answer from nvidia-smi for " + probe.staleSeconds() + " s"));
        }
        return Optional.ofNullable(worst);
    }

    private static Fault worse(Fault a, Fault b) {
        return a == null || b.severity().compareTo(a.severity()) > 0 ? b : a;
    }

    private static GpuHealth byIndex(List<GpuHealth> gpus, int index) {
        for (GpuHealth g : gpus) {
            if (g.index() == index) {
                return g;
            }
        }
        return null;
    }
}
