package dev.steadyrun.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

import tools.jackson.databind.JsonNode;

/**
 * The {@code steadyrun} command. Where the server and the token come from, first match wins: {@code --server}
 * and {@code --token}, then {@code STEADYRUN_URL} and {@code STEADYRUN_TOKEN}, then the config file {@code login}
 * wrote. Exit codes are the constants below (docs/cli.md).
 */
@Command(name = "steadyrun", mixinStandardHelpOptions = true, versionProvider = Steadyrun.Version.class,
        description = "Operate Steadyrun: runs, nodes, webhooks and API tokens.",
        subcommands = {LoginCommand.class, RunCommand.class, NodeCommand.class, WebhookCommand.class,
                TokenCommand.class, ChaosCommand.class, CompletionCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the API refused the request (4xx); its problem detail is printed",
                "2:bad usage: unknown command or option, a missing file, not logged in",
                "3:the server cannot be reached or failed (5xx)", "4:a bug in the CLI (its stack trace is printed)"})
public final class Steadyrun implements Runnable {

    public static final int OK = 0;
    public static final int API_ERROR = 1;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;
    public static final int INTERNAL = 4;

    final Env env;

    @Option(names = "--server", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "orchestrator URL (else $STEADYRUN_URL, else the config file)")
    String url;

    @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
            description = "API token (else $STEADYRUN_TOKEN, else the config file)")
    String token;

    @Spec
    CommandSpec spec;

    Steadyrun(Env env) {
        this.env = env;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "give a command");
    }

    /** The command line with the CLI's exit codes; call {@code execute(args)} on it once. */
    public static CommandLine commandLine(Env env) {
        CommandLine cli = new CommandLine(new Steadyrun(env));
        cli.setExecutionExceptionHandler(Steadyrun::failed);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        return cli;
    }

    /** A user error that needs no usage text: exit 2 with the message. */
    static final class UsageError extends RuntimeException {
        UsageError(String message) {
            super(message);
        }
    }

    /** The API of the server this invocation talks to, with its token. */
    Api api() {
        return new Api(server(), first(token, env.get(Env.TOKEN), config().token()));
    }

    /** The server: {@code --server}, else {@code $STEADYRUN_URL}, else the config file. */
    URI server() {
        String u = first(url, env.get(Env.URL), config().url());
        if (u == null) {
            throw new UsageError("no server given: run 'steadyrun login --server URL' or set " + Env.URL);
        }
        return server(u);
    }

    Config config() {
        try {
            return Config.load(env.configFile());
        } catch (IOException e) {
            throw new UsageError("cannot read " + env.configFile() + ": " + e.getMessage());
        }
    }

    /** An http(s) URL without its trailing slash. */
    static URI server(String url) {
        String trimmed = url.strip().replaceAll("/+$", "");
        URI uri;
        try {
            uri = URI.create(trimmed);
        } catch (IllegalArgumentException e) {
            throw new UsageError("not a URL: " + url);
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new UsageError("not an http(s) URL: " + url);
        }
        return uri;
    }

    static String first(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }

    private static int failed(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        int code;
        if (e instanceof Api.Failure f) {
            printProblem(err, f);
            code = f.status >= 500 ? UNREACHABLE : API_ERROR;
        } else if (e instanceof Api.Unreachable) {
            err.println("steadyrun: " + e.getMessage());
            code = UNREACHABLE;
        } else if (e instanceof UsageError) {
            err.println("steadyrun: " + e.getMessage());
            code = USAGE;
        } else {
            err.println("steadyrun: internal error");
            e.printStackTrace(err);
            code = INTERNAL;
        }
        err.flush();
        return code;
    }

    /** The status, then one {@code field: message} line per error (with its line in a YAML spec), else the detail. */
    static void printProblem(PrintWriter err, Api.Failure f) {
        JsonNode p = f.problem;
        String title = p.path("title").asString("");
        err.println("steadyrun: " + f.status + (title.isEmpty() ? "" : " " + title));
        JsonNode errors = p.path("errors");
        if (errors.isArray() && !errors.isEmpty()) {
            for (JsonNode e : errors) {
                String at = e.has("line") ? " (line " + e.get("line").asInt() + ", column "
                        + e.path("column").asInt() + ")" : "";
                err.println(e.path("field").asString("(body)") + ": " + e.path("message").asString("") + at);
            }
        } else if (p.hasNonNull("detail")) {
            err.println(p.get("detail").asString());
        }
        if (f.status == 401) {
            err.println("(sign in again: steadyrun login --server URL --token TOKEN)");
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Steadyrun.class.getPackage().getImplementationVersion();
            return new String[] {"steadyrun " + (v == null ? "(development build)" : v)};
        }
    }
}
