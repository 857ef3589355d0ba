package dev.steadyrun.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import dev.steadyrun.cli.Output.Column;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** {@code steadyrun node ...}: the fleet ({@code /api/v1/nodes}). A node is named by its id or its name. */
@Command(name = "node", description = "Inspect the fleet; cordon, uncordon, drain and swap nodes; re-key and delete "
        + "them (ADMIN).",
        mixinStandardHelpOptions = true)
final class NodeCommand implements Runnable {

    /** The API's largest page of nodes: names are looked up a page at a time. */
    private static final int PAGE = 500;

    static final List<Column> ROWS = List.of(Column.of("ID", "/id"), Column.of("NAME", "/name"),
            Column.of("STATE", "/state"), new Column("GPUS", n -> String.valueOf(n.path("gpus").size())),
            new Column("LABELS", n -> Output.labels(n.path("labels"))),
            new Column("LAST SEEN", n -> Output.time(n.get("lastSeenAt"))),
            Column.of("REASON", "/stateReason"));

    static final List<Column> NODE = List.of(Column.of("id", "/id"), Column.of("name", "/name"),
            Column.of("hostname", "/hostname"), Column.of("state", "/state"), Column.of("reason", "/stateReason"),
            new Column("since", n -> Output.time(n.get("stateChangedAt"))),
            new Column("labels", n -> Output.labels(n.path("labels"))),
            new Column("gpus", n -> gpus(n.path("gpus"))), Column.of("agent", "/agentVersion"),
            new Column("registered", n -> Output.time(n.get("registeredAt"))),
            new Column("last seen", n -> Output.time(n.get("lastSeenAt"))));

    /** {@code GET /nodes/{id}}: the node and its latest heartbeat. */
    static final List<Column> DETAIL = List.of(Column.of("id", "/node/id"), Column.of("name", "/node/name"),
            Column.of("hostname", "/node/hostname"), Column.of("state", "/node/state"),
            Column.of("reason", "/node/stateReason"), new Column("labels", d -> Output.labels(d.at("/node/labels"))),
            new Column("gpus", d -> gpus(d.at("/node/gpus"))),
            new Column("gpu health", d -> health(d.path("gpuHealth"))),
            new Column("trainer", d -> trainer(d.path("trainer"))),
            new Column("last seen", d -> Output.time(d.at("/node/lastSeenAt"))),
            Column.of("heartbeat sequence", "/lastSequence"));

    @ParentCommand
    Steadyrun root;

    @Spec
    CommandSpec spec;

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "give a subcommand");
    }

    @Command(name = "list", description = "Nodes by name.")
    int list(@Option(names = "--state", paramLabel = "STATE", description = "only nodes in this state") String state,
             @Option(names = "--label", paramLabel = "KEY=VALUE", description = "only nodes with this label")
             String label,
             @Option(names = "--page", defaultValue = "0", description = "page number, from 0") int page,
             @Option(names = "--size", defaultValue = "50", description = "nodes per page (1-500)") int size,
             @Mixin Output output) {
        JsonNode found = root.api().get("/api/v1/nodes",
                Api.query("state", state, "label", label, "page", page, "size", size));
        output.printPage(out(), found, ROWS, "nodes");
        return Steadyrun.OK;
    }

    @Command(name = "show", description = "One node with its latest heartbeat.")
    int show(@Parameters(paramLabel = "NODE") String node, @Mixin Output output) {
        Api api = root.api();
        output.print(out(), api.get("/api/v1/nodes/" + id(api, node)), DETAIL);
        return Steadyrun.OK;
    }

    @Command(name = "cordon", description = "Take no new work on the node; its current run keeps it.")
    int cordon(@Parameters(paramLabel = "NODE") String node, @Option(names = "--reason") String reason,
               @Mixin Output output) {
        return act(node, "cordon", reason, output);
    }

    @Command(name = "uncordon", description = "Let the node take work again.")
    int uncordon(@Parameters(paramLabel = "NODE") String node, @Option(names = "--reason") String reason,
                 @Mixin Output output) {
        return act(node, "uncordon", reason, output);
    }

    @Command(name = "drain", description = "Cordon the node and move its run off it.")
    int drain(@Parameters(paramLabel = "NODE") String node, @Option(names = "--reason") String reason,
              @Mixin Output output) {
        return act(node, "drain", reason, output);
    }

    @Command(name = "swap", description = "Cordon the node, give its rank to a spare and restart the run from its "
            + "newest checkpoint (a recovery incident).")
    int swap(@Parameters(paramLabel = "NODE") String node, @Mixin Output output) {
        Api api = root.api();
        output.print(out(), api.post("/api/v1/nodes/" + id(api, node) + "/swap", (JsonNode) null),
                RunCommand.INCIDENT);
        return Steadyrun.OK;
    }

    @Command(name = "rekey", description = "Issue the node a new credential (ADMIN), shown this once; the old one stops "
            + "working at once. Write it into the agent's credential file.")
    int rekey(@Parameters(paramLabel = "NODE") String node, @Mixin Output output) {
        Api api = root.api();
        JsonNode found = node(api, node);
        String name = found.path("name").asString();
        JsonNode answer = api.post("/api/v1/nodes/" + found.path("id").asString() + "/rekey", (JsonNode) null);
        // the agent reads <state-dir>/<node-name>.credential again at its next attempt (docs/agent.md)
        output.print(out(), answer, List.of(Column.of("node", "/nodeId"), new Column("name", a -> name),
                Column.of("credential", "/nodeCredential"),
                new Column("write it to", a -> "<state-dir>/" + name + ".credential on the node (mode 0600)")));
        return Steadyrun.OK;
    }

    @Command(name = "delete", description = "Remove the node from the fleet (ADMIN): its credential stops working and "
            + "its name is free. Refused while it holds a seat in a run that is not over.")
    int delete(@Parameters(paramLabel = "NODE") String node,
               @Option(names = "--yes", description = "do not ask for confirmation") boolean yes) throws IOException {
        Api api = root.api();
        JsonNode found = node(api, node);
        String which = found.path("name").asString() + " (" + found.path("id").asString() + ")";
        if (!yes) {
            confirm("Delete node " + which + "? Its credential stops working and its name is freed. [y/N] ");
        }
        api.delete("/api/v1/nodes/" + found.path("id").asString());
        out().println("deleted node " + which);
        out().flush();
        return Steadyrun.OK;
    }

    /** Asks on standard error, reads the answer from standard input; anything but y or yes (or no answer) stops. */
    private void confirm(String question) throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        err.print(question);
        err.flush();
        String answer = new BufferedReader(new InputStreamReader(root.env.stdin(), StandardCharsets.UTF_8)).readLine();
        if (answer == null) {
            err.println();
            throw new Steadyrun.UsageError("not deleted: no answer on standard input (--yes deletes without asking)");
        }
        if (!answer.strip().equalsIgnoreCase("y") && !answer.strip().equalsIgnoreCase("yes")) {
            throw new Steadyrun.UsageError("not deleted");
        }
    }

    private int act(String node, String action, String reason, Output output) {
        Api api = root.api();
        ObjectNode body = Api.JSON.createObjectNode();
        if (reason != null) {
            body.put("reason", reason);
        }
        output.print(out(), api.post("/api/v1/nodes/" + id(api, node) + "/" + action, body), NODE);
        return Steadyrun.OK;
    }

    /** The node itself ({@code GET /nodes/{id}}'s {@code node}), found by its id or its name. */
    private static JsonNode node(Api api, String node) {
        return api.get("/api/v1/nodes/" + id(api, node)).path("node");
    }

    /** The node's id: the argument itself when it is one, else the id of the node of that name. */
    static UUID id(Api api, String node) {
        try {
            return UUID.fromString(node);
        } catch (IllegalArgumentException notAnId) {
            for (int page = 0; ; page++) {
                JsonNode found = api.get("/api/v1/nodes", Api.query("page", page, "size", PAGE));
                for (JsonNode n : found.path("items")) {
                    if (node.equals(n.path("name").asString())) {
                        return UUID.fromString(n.path("id").asString());
                    }
                }
                if ((long) (page + 1) * PAGE >= found.path("total").asLong()) {
                    throw new Steadyrun.UsageError("no node named " + node);
                }
            }
        }
    }

    private static String gpus(JsonNode gpus) {
        if (gpus.isEmpty()) {
            return "-";
        }
        return gpus.size() + " × " + gpus.get(0).path("model").asString() + " ("
                + gpus.get(0).path("memoryMiB").asLong() + " MiB)";
    }

    private static String health(JsonNode gpus) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode g : gpus) {
            sb.append(sb.isEmpty() ? "" : "; ").append(String.format(Locale.ROOT,
                    "gpu%d %.0f°C %.0f%% util %d/%d MiB", g.path("index").asInt(), g.path("temperatureC").asDouble(),
                    g.path("utilizationPct").asDouble(), g.path("memoryUsedMiB").asLong(),
                    g.path("memoryTotalMiB").asLong()));
            if (!g.path("xidErrors").isEmpty()) {
                sb.append(" xid ").append(g.path("xidErrors"));
            }
        }
        return sb.isEmpty() ? "-" : sb.toString();
    }

    private static String trainer(JsonNode t) {
        if (t.isMissingNode() || t.isNull()) {
            return "-";
        }
        String state = t.path("state").asString();
        return t.hasNonNull("runId") ? state + " run " + t.get("runId").asString() + " rank " + t.path("rank").asInt()
                + " generation " + t.path("generation").asLong() + " step " + t.path("lastStep").asLong() : state;
    }
}
