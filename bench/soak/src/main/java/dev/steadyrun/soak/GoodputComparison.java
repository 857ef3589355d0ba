package dev.steadyrun.soak;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import tools.jackson.databind.JsonNode;

/**
 * Sets two soaks of one trace side by side (bench/goodput-soak.sh): Steadyrun's policy and the baseline's. Both
 * figures are measured, each from its own soak: the goodput on the soak's compressed step clock (steps taken over
 * soak time) and the projection of its per-failure losses to the MTTF anchors.
 *
 * <pre>java -cp … dev.steadyrun.soak.GoodputComparison OURS/report.json BASELINE/report.json OUT.md</pre>
 */
final class GoodputComparison {

    private GoodputComparison() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: GoodputComparison OURS/report.json BASELINE/report.json OUT.md");
        }
        String md = markdown(read(args[0]), read(args[1]));
        Files.writeString(Path.of(args[2]), md);
        System.out.println(md);
    }

    private static JsonNode read(String file) throws Exception {
        return Api.JSON.readTree(Files.readString(Path.of(file)));
    }

    static String markdown(JsonNode ours, JsonNode baseline) {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "# Goodput: one trace (seed %s, %.1f min), two policies%n%n",
                ours.at("/settings/seed").asString(), ours.path("soakSeconds").asDouble() / 60));
        if (!ours.at("/settings/seed").equals(baseline.at("/settings/seed"))
                || !ours.at("/settings/minutes").equals(baseline.at("/settings/minutes"))
                || !ours.at("/settings/mean-gap-seconds").equals(baseline.at("/settings/mean-gap-seconds"))) {
            md.append("**The two soaks did not replay the same trace (seed, minutes or mean gap differ).**\n\n");
        } else if (!ours.path("injected").equals(baseline.path("injected"))) {
            // the fleet injects a failure only while no recovery is open: a policy that never closes one (a
            // straggler nobody scores) stops the trace there, and the figures compare different failures
            md.append("**The two soaks injected different failures**: the fleet injects the next failure only once"
                    + " the open recovery closed, so a policy that leaves one open (a straggler nobody scores) cuts"
                    + " the trace short. The figures below compare different failures.\n\n");
        }
        md.append("| | Steadyrun | baseline |\n|---|---|---|\n");
        row(md, "policy", ours.path("policy").asString(), baseline.path("policy").asString());
        row(md, "nodes / ranks / spares", ours.path("nodes").asInt() + " / " + ours.path("worldSize").asInt() + " / "
                + ours.at("/settings/spares").asString(), baseline.path("nodes").asInt() + " / "
                + baseline.path("worldSize").asInt() + " / " + baseline.at("/settings/spares").asString());
        row(md, "failures injected", ours.path("injected").toString(), baseline.path("injected").toString());
        row(md, "incidents", ours.path("incidents").asInt() + " " + ours.path("incidentsByState"),
                baseline.path("incidents").asInt() + " " + baseline.path("incidentsByState"));
        row(md, "steps taken", Long.toString(ours.path("stepsTaken").asLong()),
                Long.toString(baseline.path("stepsTaken").asLong()));
        row(md, "goodput on the soak's step clock", percent(ours.path("soakGoodputCompressed").asDouble()),
                percent(baseline.path("soakGoodputCompressed").asDouble()));
        JsonNode ourProjections = ours.at("/goodput/projections");
        JsonNode baseProjections = baseline.at("/goodput/projections");
        for (int i = 0; i < ourProjections.size() && i < baseProjections.size(); i++) {
            row(md, "projected, measured losses, " + ourProjections.get(i).path("label").asString(),
                    percent(ourProjections.get(i).path("goodput").asDouble()),
                    percent(baseProjections.get(i).path("goodput").asDouble()));
        }
        row(md, "broken invariants", ours.path("violationCounts").toString(),
                baseline.path("violationCounts").toString());
        md.append("\nEach column is its own soak of the same trace (causes and times; the victims are drawn from each"
                + " soak's gang). The projections price a human's wait at the soaks' human-real-seconds. The baseline"
                + " has no spares, but its lost nodes are replaced from the fleet's free nodes at once: the wait for"
                + " new hardware is not replayed, which favours the baseline.\n");
        return md.toString();
    }

    private static void row(StringBuilder md, String what, String ours, String baseline) {
        md.append("| ").append(what).append(" | ").append(ours).append(" | ").append(baseline).append(" |\n");
    }

    private static String percent(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.2f %%", 100 * v);
    }
}
