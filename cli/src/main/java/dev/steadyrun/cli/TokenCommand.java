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

/** {@code steadyrun token ...}: API tokens ({@code /api/v1/tokens}; every call needs ADMIN). */
@Command(name = "token", description = "API tokens (ADMIN): list, create, revoke.", mixinStandardHelpOptions = true)
final class TokenCommand implements Runnable {

    static final List<Column> ROWS = List.of(Column.of("ID", "/id"), Column.of("NAME", "/name"),
            Column.of("ROLE", "/role"), new Column("CREATED", t -> Output.time(t.get("createdAt"))),
            Column.of("BY", "/createdBy"), new Column("REVOKED", t -> Output.time(t.get("revokedAt"))));

    static final List<Column> CREATED = List.of(Column.of("id", "/token/id"), Column.of("name", "/token/name"),
            Column.of("role", "/token/role"), Column.of("secret", "/secret"));

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

    @Command(name = "list", description = "Every token, without secrets.")
    int list(@Mixin Output output) {
        output.print(out(), root.api().get("/api/v1/tokens"), ROWS);
        return Steadyrun.OK;
    }

    @Command(name = "create", description = "Create a token; its secret is shown this once.")
    int create(@Option(names = "--name", required = true) String name,
               @Option(names = "--role", required = true, description = "VIEWER, OPERATOR or ADMIN") String role,
               @Mixin Output output) {
        JsonNode body = Api.JSON.createObjectNode().put("name", name).put("role", role);
        output.print(out(), root.api().post("/api/v1/tokens", body), CREATED);
        return Steadyrun.OK;
    }

    @Command(name = "revoke", description = "Revoke a token; it stops working at once.")
    int revoke(@Parameters(paramLabel = "TOKEN_ID") UUID id, @Mixin Output output) {
        output.print(out(), root.api().delete("/api/v1/tokens/" + id), ROWS);
        return Steadyrun.OK;
    }
}
