package dev.steadyrun.agent.testing;

import java.util.ArrayList;
import java.util.List;

import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.protocol.TrainerReport;

/** TEST TOOL: what a trainer reported, taken from the agent's buffer as the lease loop would send it. */
public final class Reports {

    private Reports() {
    }

    /** Every waiting report, in the order the lease loop would send them, marked sent. */
    public static List<TrainerReport> drain(ReportBuffer reports) {
        List<TrainerReport> out = new ArrayList<>();
        for (var b = reports.next(); b.isPresent(); b = reports.next()) {
            out.add(b.get().report());
            reports.sent(b.get());
        }
        return out;
    }
}
