package dev.steadyrun.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
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
import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** {@code steadyrun run ...}: submit, read and steer runs ({@code /api/v1/runs}). */
@Command(name = "run", description = "Submit, inspect and steer training runs.", mixinStandardHelpOptions = true)
final class RunCommand implements Runnable {

    static final List<Column> ROWS = List.of(Column.of("ID", "/id"), Column.of("NAME", "/name"),
            Column.of("STATE", "/state"), new Column("PROGRAM", RunCommand::program), Column.of("GEN", "/generation"), Column.of("WORLD", "/worldSize"),
            Column.of("STEP", "/lastStep"), new Column("LOSS", r -> Output.number(r.get("lastLoss"), 4)),
            Column.of("RESTARTS", "/restarts"), new Column("GOODPUT", r -> percent(r.get("goodput"))),
            new Column("CREATED", r -> Output.time(r.get("createdAt"))));

    /** What the run trains, {@code name@version}. */
    private static String program(JsonNode run) {
        return Output.text(run.at("/spec/program/name")) + "@" + Output.text(run.at("/spec/program/version"));
    }

    static final List<Column> DETAIL = List.of(Column.of("id", "/id"), Column.of("name", "/name"),
            Column.of("state", "/state"), Column.of("reason", "/stateReason"),
            new Column("since", r -> Output.time(r.get("stateChangedAt"))), Column.of("generation", "/generation"),
            Column.of("world size", "/worldSize"), Column.of("spares", "/spares"),
            new Column("program", RunCommand::program), Column.of("model", "/spec/model/size"),
            new Column("data", r -> Output.text(r.at("/spec/data/path").isString() ? r.at("/spec/data/path")
                    : r.at("/spec/data/sample"))),
            Column.of("max steps", "/spec/hyper/maxSteps"), Column.of("last step", "/lastStep"),
            new Column("last loss", r -> Output.number(r.get("lastLoss"), 4)), Column.of("tokens", "/tokensSeen"),
            Column.of("restarts", "/restarts"), new Column("goodput", r -> percent(r.get("goodput"))),
            Column.of("open incidents", "/openIncidents"),
            new Column("created", r -> Output.time(r.get("createdAt")) + " by " + Output.text(r.get("createdBy"))));

    static final List<Column> INCIDENTS = List.of(Column.of("ID", "/id"), Column.of("KIND", "/kind"),
            Column.of("CAUSE", "/cause"), Column.of("STATE", "/state"),
            new Column("DETECTED", i -> Output.time(i.get("detectedAt"))), Column.of("GEN", "/generation"),
            Column.of("NODE", "/nodeName"), Column.of("RANK", "/rank"), Column.of("ACTION", "/decision/action"),
            Column.of("SUMMARY", "/summary"));

    static final List<Column> INCIDENT = List.of(Column.of("incident", "/id"), Column.of("run", "/runId"),
            Column.of("kind", "/kind"), Column.of("state", "/state"), Column.of("summary", "/summary"),
            Column.of("action", "/decision/action"), new Column("knobs", i -> knobs(i.at("/decision/knobs"))),
            Column.of("restore from step", "/restoreFrom/step"), Column.of("new generation", "/newGeneration"));

    static final List<Column> CHECKPOINTS = List.of(Column.of("STEP", "/step"), Column.of("GEN", "/generation"),
            new Column("LOSS", c -> Output.number(c.get("loss"), 4)),
            new Column("SCALE", c -> Output.number(c.get("lossScale"), 4)), Column.of("HEALTHY", "/healthy"),
            new Column("STATUS", RunCommand::checkpointStatus),
            new Column("REPORTED", c -> Output.time(c.get("reportedAt"))), Column.of("PATH", "/path"));

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

    @Command(name = "submit", description = "Submit a run spec (YAML or JSON; '-' reads standard input).")
    int submit(@Option(names = {"-f", "--file"}, required = true, paramLabel = "FILE") String file,
               @Mixin Output output) {
        String text = read(file);
        boolean json = file.endsWith(".json") || text.stripLeading().startsWith("{");
        JsonNode run = root.api().post("/api/v1/runs", text, json ? "application/json" : "application/yaml");
        output.print(out(), run, DETAIL);
        return Steadyrun.OK;
    }

    @Command(name = "list", description = "Runs, newest first.")
    int list(@Option(names = "--state", paramLabel = "STATE", description = "only runs in this state") String state,
             @Option(names = "--page", defaultValue = "0", description = "page number, from 0") int page,
             @Option(names = "--size", defaultValue = "50", description = "runs per page (1-200)") int size,
             @Mixin Output output) {
        JsonNode found = root.api().get("/api/v1/runs", Api.query("page", page, "size", size, "state", state));
        output.printPage(out(), found, ROWS, "runs");
        return Steadyrun.OK;
    }

    @Command(name = "show", description = "One run with its resolved spec.")
    int show(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/runs/" + id), DETAIL);
        return Steadyrun.OK;
    }

    @Command(name = "incidents", description = "The run's recovery logbook, newest first.")
    int incidents(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/runs/" + id + "/incidents"), INCIDENTS);
        return Steadyrun.OK;
    }

    @Command(name = "checkpoints", description = "The run's checkpoints, newest first.")
    int checkpoints(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/runs/" + id + "/checkpoints"), CHECKPOINTS);
        return Steadyrun.OK;
    }

    @Command(name = "pause", description = "Pause the run (its trainers stop after a checkpoint).")
    int pause(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        return act(id, "pause", output);
    }

    @Command(name = "resume", description = "Resume a paused run.")
    int resume(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        return act(id, "resume", output);
    }

    @Command(name = "cancel", description = "Cancel the run.")
    int cancel(@Parameters(paramLabel = "RUN_ID") UUID id, @Mixin Output output) {
        return act(id, "cancel", output);
    }

    @Command(name = "restart", description = "Restart every rank at a new generation, from a checkpoint, "
            + "optionally with knobs (the recovery ladder's adjustments).")
    int restart(@Parameters(paramLabel = "RUN_ID") UUID id,
                @Option(names = "--checkpoint", paramLabel = "STEP",
                        description = "the checkpoint's step (default: the newest complete one)") Long step,
                @Option(names = "--knob", paramLabel = "NAME=VALUE",
                        description = "e.g. clipNorm=0.3, lrMultiplier=0.9, resetLossScaler=true, skipBatches=200; "
                                + "repeatable") List<String> knobs,
                @Option(names = "--reason", description = "for the logbook") String reason,
                @Mixin Output output) {
        ObjectNode body = Api.JSON.createObjectNode();
        if (step != null) {
            body.put("checkpointStep", step);
        }
        if (knobs != null && !knobs.isEmpty()) {
            body.set("knobs", Api.JSON.valueToTree(knobs(knobs)));
        }
        if (reason != null) {
            body.put("reason", reason);
        }
        output.print(out(), root.api().post("/api/v1/runs/" + id + "/restart", body), INCIDENT);
        return Steadyrun.OK;
    }

    @Command(name = "watch", description = "Follow the run: a line per new step, each incident and state change, "
            + "until the run ends (or Ctrl-C).")
    int watch(@Parameters(paramLabel = "RUN_ID") UUID id,
              @Option(names = "--interval", defaultValue = "2", paramLabel = "SECONDS",
                      description = "seconds between polls (default: ${DEFAULT-VALUE})") double interval)
            throws InterruptedException {
        new RunWatch(root.api(), id, out(), Math.round(interval * 1000)).follow();
        return Steadyrun.OK;
    }

    @Command(name = "logs", description = "A rank's recent trainer log (stdout and stderr lines); -f follows it "
            + "until the run ends (or Ctrl-C).")
    int logs(@Parameters(paramLabel = "RUN_ID") UUID id,
             @Option(names = {"-f", "--follow"}, description = "keep printing new lines as they come") boolean follow,
             @Option(names = "--rank", paramLabel = "N", description = "the rank (default: 0)") Integer rank,
             @Option(names = "--generation", paramLabel = "G",
                     description = "the generation (default: the current one; a follow then moves on with restarts)")
             Long generation) {
        RunLogs logs = new RunLogs(root.api(), id, rank, generation, out(), spec.commandLine().getErr());
        if (follow) {
            logs.follow();
        } else {
            logs.print();
        }
        return Steadyrun.OK;
    }

    private int act(UUID id, String action, Output output) {
        output.print(out(), root.api().post("/api/v1/runs/" + id + "/" + action, (JsonNode) null), DETAIL);
        return Steadyrun.OK;
    }

    private static String read(String file) {
        try {
            return file.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                    : Files.readString(Path.of(file));
        } catch (NoSuchFileException e) {
            throw new Steadyrun.UsageError("no such file: " + file);
        } catch (IOException e) {
            throw new Steadyrun.UsageError("cannot read " + file + ": " + e.getMessage());
        }
    }

    private static String percent(JsonNode value) {
        return value == null || !value.isNumber() ? "-"
                : String.format(Locale.ROOT, "%.1f%%", value.doubleValue() * 100);
    }

    /**
     * {@code --knob} values read and checked by the protocol's own reader, the one the trainer uses, so a knob
     * the trainer would refuse is a usage error here, before anything is sent.
     */
    private static RestartKnobs knobs(List<String> given) {
        try {
            return RestartKnobs.fromArgs(given);
        } catch (RestartKnobs.InvalidKnobException e) {
            throw new Steadyrun.UsageError("--knob " + e.knob() + ": " + e.reason());
        }
    }

    /** The knobs a restart applies, in their {@code name=value} form, leaving out those that change nothing. */
    static String knobs(JsonNode knobs) {
        if (!knobs.isObject()) {
            return "-";
        }
        List<String> args = Api.JSON.treeToValue(knobs, RestartKnobs.class).toArgs(); // --knob, name=value, ...
        List<String> set = new ArrayList<>();
        for (int i = 1; i < args.size(); i += 2) {
            set.add(args.get(i));
        }
        return set.isEmpty() ? "-" : String.join(" ", set);
    }

    private static String checkpointStatus(JsonNode c) {
        for (String flag : new String[] {"corrupt", "abandoned", "removed"}) {
            if (c.path(flag).asBoolean(false)) {
                return flag;
            }
        }
        return "ok";
    }
}
