package dev.steadyrun.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
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
        URI server = root.server();
        String token = Steadyrun.first(root.token, root.env.get(Env.TOKEN));
        if (token == null) {
            token = readToken();
        }
        if (token == null || token.isBlank()) {
            throw new Steadyrun.UsageError("no API token given (--token, the prompt or standard input)");
        }
        Api api = new Api(server, token.strip());
        JsonNode me = api.get("/api/v1/me");
        Path file = root.env.configFile();
        try { // only once the server accepted the token
            new Config(api.base().toString(), token.strip()).save(file);
        } catch (IOException e) {
            throw new Steadyrun.UsageError("cannot write " + file + ": " + e);
        }
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
