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
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** {@code steadyrun webhook ...}: alerting webhooks ({@code /api/v1/webhooks}, docs/alerts.md). */
@Command(name = "webhook", description = "Alerting webhooks: create, test, read deliveries, redeliver.",
        mixinStandardHelpOptions = true)
final class WebhookCommand implements Runnable {

    static final List<Column> ROWS = List.of(Column.of("ID", "/id"), Column.of("NAME", "/name"),
            Column.of("URL", "/url"), Column.of("FORMAT", "/format"),
            new Column("EVENTS", w -> String.join(",", w.path("eventTypes").valueStream().map(JsonNode::asString)
                    .toList())),
            new Column("DISABLED", w -> w.hasNonNull("disabledAt") ? Output.time(w.get("disabledAt")) + " "
                    + Output.text(w.get("disabledReason")) : "-"));

    static final List<Column> CREATED = List.of(Column.of("id", "/id"), Column.of("name", "/name"),
            Column.of("url", "/url"), Column.of("format", "/format"), Column.of("events", "/eventTypes"),
            Column.of("secret", "/secret"));

    static final List<Column> DELIVERIES = List.of(Column.of("ID", "/id"), Column.of("EVENT", "/eventType"),
            new Column("OCCURRED", d -> Output.time(d.get("occurredAt"))), Column.of("STATE", "/state"),
            Column.of("ATTEMPTS", "/attempts"), new Column("DELIVERED", d -> Output.time(d.get("deliveredAt"))),
            new Column("NEXT ATTEMPT", d -> Output.time(d.get("nextAttemptAt"))),
            Column.of("LAST ERROR", "/lastError"));

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

    @Command(name = "list", description = "Every webhook.")
    int list(@Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/webhooks"), ROWS);
        return Steadyrun.OK;
    }

    @Command(name = "show", description = "One webhook.")
    int show(@Parameters(paramLabel = "WEBHOOK_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/webhooks/" + id), ROWS);
        return Steadyrun.OK;
    }

    @Command(name = "create", description = "Create a webhook (ADMIN); its signing secret is shown this once.")
    int create(@Option(names = "--url", required = true, description = "where events are POSTed") String url,
               @Option(names = "--event", required = true, paramLabel = "TYPE",
                       description = "an event type such as node.failed; repeatable") List<String> events,
               @Option(names = "--name", description = "a label (default: the URL's host)") String name,
               @Option(names = "--format", description = "json (Standard Webhooks, default) or slack") String format,
               @Mixin Output output) {
        ObjectNode body = Api.JSON.createObjectNode().put("url", url);
        body.putArray("eventTypes").addAll(events.stream().map(Api.JSON.getNodeFactory()::stringNode).toList());
        if (name != null) {
            body.put("name", name);
        }
        if (format != null) {
            body.put("format", format);
        }
        output.print(out(), root.api().post("/api/v1/webhooks", body), CREATED);
        return Steadyrun.OK;
    }

    @Command(name = "delete", description = "Delete a webhook (ADMIN).")
    int delete(@Parameters(paramLabel = "WEBHOOK_ID") UUID id) {
        root.api().delete("/api/v1/webhooks/" + id);
        out().println("deleted webhook " + id);
        out().flush();
        return Steadyrun.OK;
    }

    @Command(name = "test", description = "Send a test event; prints the delivery.")
    int test(@Parameters(paramLabel = "WEBHOOK_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().post("/api/v1/webhooks/" + id + "/test", (JsonNode) null), DELIVERIES);
        return Steadyrun.OK;
    }

    @Command(name = "deliveries", description = "The webhook's deliveries, newest first.")
    int deliveries(@Parameters(paramLabel = "WEBHOOK_ID") UUID id,
                   @Option(names = "--limit", defaultValue = "50", description = "at most this many (1-500)")
                   int limit,
                   @Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/webhooks/" + id + "/deliveries", Api.query("limit", limit)),
                DELIVERIES);
        return Steadyrun.OK;
    }

    @Command(name = "redeliver", description = "Send a delivery again (by its number from 'deliveries').")
    int redeliver(@Parameters(paramLabel = "DELIVERY_ID") long id, @Mixin Output output) {
        output.print(out(), root.api().post("/api/v1/webhook-deliveries/" + id + "/redeliver", (JsonNode) null),
                DELIVERIES);
        return Steadyrun.OK;
    }
}
