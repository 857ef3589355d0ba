package dev.steadyrun.cli;

import java.io.PrintWriter;
import java.util.List;
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
import dev.steadyrun.protocol.ChaosFault;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code steadyrun chaos ...}: break a running run on purpose to watch it recover ({@code POST /runs/{id}/chaos}).
 * ADMIN only, and only against an orchestrator started with chaos enabled (a test tool, off by default).
 */
@Command(name = "chaos", description = "Break a running run on purpose and watch it recover (ADMIN; the orchestrator "
        + "must run with steadyrun.chaos.enabled=true, as the local cluster does).",
        mixinStandardHelpOptions = true)
final class ChaosCommand implements Runnable {

    static final List<Column> ASKED = List.of(Column.of("chaos", "/id"), Column.of("action", "/action"),
            Column.of("run", "/runId"), Column.of("generation", "/generation"), Column.of("rank", "/rank"),
            Column.of("node", "/nodeName"), Column.of("checkpoint", "/checkpoint"),
            Column.of("requested by", "/requestedBy"), new Column("at", c -> Output.time(c.get("requestedAt"))));

    @ParentCommand
    Steadyrun root;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "give a subcommand");
    }

    @Command(name = "kill-node", description = "The rank's agent kills its trainer and itself, as if the host died: "
            + "the node is lost and a spare takes the rank.")
    int killNode(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Rank rank, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.KILL_NODE, rank.rank, output);
    }

    @Command(name = "gpu-fault", description = "The rank's node reports XID 79 (GPU fallen off the bus): it is failed "
            + "and swapped.")
    int gpuFault(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Rank rank, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.GPU_FAULT, rank.rank, output);
    }

    @Command(name = "hang", description = "The rank's trainer stops stepping: found after the run's hang floor.")
    int hang(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Rank rank, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.HANG, rank.rank, output);
    }

    @Command(name = "straggle", description = "The rank's trainer takes three times as long per step.")
    int straggle(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Rank rank, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.STRAGGLE, rank.rank, output);
    }

    @Command(name = "diverge", description = "FP16: the loss scale collapses below 1, then the loss spikes; the run "
            + "is rolled back to the last checkpoint with loss scale >= 1 before the onset, with the ladder's knobs.")
    int diverge(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Rank rank, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.DIVERGE, rank.rank, output);
    }

    @Command(name = "corrupt-checkpoint", description = "Rank 0's agent flips bytes in the newest checkpoint: the next "
            + "restore refuses it on its checksum and falls back to the one before.")
    int corruptCheckpoint(@Parameters(paramLabel = "RUN_ID") UUID run, @Mixin Output output) {
        return ask(run, ChaosFault.Kind.CORRUPT_CHECKPOINT, 0, output);
    }

    /** {@code --rank}, the rank whose node or trainer is broken. */
    static final class Rank {
        @Option(names = "--rank", defaultValue = "0", description = "the rank to break (default ${DEFAULT-VALUE})")
        int rank;
    }

    private int ask(UUID run, ChaosFault.Kind kind, int rank, Output output) {
        ObjectNode body = Api.JSON.createObjectNode();
        body.put("action", kind.name());
        body.put("rank", rank);
        PrintWriter out = spec.commandLine().getOut();
        output.print(out, root.api().post("/api/v1/runs/" + run + "/chaos", body), ASKED);
        return Steadyrun.OK;
    }
}
