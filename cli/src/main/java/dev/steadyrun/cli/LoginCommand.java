package dev.steadyrun.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import tools.jackson.databind.JsonNode;

/**
 * Checks the URL and token against {@code GET /api/v1/me} and keeps both in the config file (0600). The token
 * comes from {@code --token}, else a hidden prompt, else one line of standard input (so it need not appear in
 * the shell's history: {@code steadyrun login --server URL < token-file}).
 */
@Command(name = "login", description = "Check and save the server URL and API token (config file, mode 0600).")
final class LoginCommand implements Callable<Integer> {

    @ParentCommand
    Steadyrun root;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        Config saved = root.config();
        String url = root.url != null ? root.url : root.env.get(Env.URL) != null ? root.env.get(Env.URL) : saved.url();
        if (url == null) {
            throw new Steadyrun.UsageError("give the orchestrator's address: steadyrun login --server URL");
        }
        String token = root.token != null ? root.token : readToken();
        if (token == null || token.isBlank()) {
            throw new Steadyrun.UsageError("no API token given (--token, a prompt or standard input)");
        }
        Api api = new Api(Steadyrun.server(url), token.strip());
        JsonNode me = api.get("/api/v1/me");
        Path file = root.env.configFile();
        new Config(api.base().toString(), token.strip()).save(file);
        spec.commandLine().getOut().printf("Logged in to %s as %s (%s); saved in %s%n", api.base(),
                me.path("name").asString(), me.path("role").asString(), file);
        return Steadyrun.OK;
    }

    private String readToken() throws IOException {
        Console console = System.console();
        if (console != null) {
            char[] typed = console.readPassword("API token: ");
            return typed == null ? null : new String(typed);
        }
        return new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    }
}
