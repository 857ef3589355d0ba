package dev.steadyrun.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.CompletableFuture;

import picocli.CommandLine;

/** Runs the CLI in this JVM as a user would from a shell with the given environment, capturing what it prints. */
final class Cli {

    private final Env env;

    Cli(Env env) {
        this.env = env;
    }

    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    Result run(String... args) {
        return start(args).join();
    }

    /** Starts the command on its own thread; {@code output} shows what it printed so far. */
    Running start(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Steadyrun.commandLine(env);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return new Running(out, CompletableFuture.supplyAsync(
                () -> new Result(cli.execute(args), out.toString(), err.toString()),
                task -> new Thread(task, "steadyrun " + String.join(" ", args)).start()));
    }

    record Running(StringWriter output, CompletableFuture<Result> result) {
        Result join() {
            return result.join();
        }
    }
}
