package dev.steadyrun.cli;

import java.util.concurrent.Callable;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Prints a shell completion script generated from the command tree, so it covers every command and option. */
@Command(name = "completion", description = "Print the shell completion script: source <(steadyrun completion bash)"
        + " (zsh: autoload -U bashcompinit && bashcompinit first).")
final class CompletionCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "SHELL", description = "bash (zsh reads it through bashcompinit)")
    Shell shell;

    enum Shell { bash }

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(AutoComplete.bash("steadyrun", spec.root().commandLine()));
        spec.commandLine().getOut().flush();
        return Steadyrun.OK;
    }
}
