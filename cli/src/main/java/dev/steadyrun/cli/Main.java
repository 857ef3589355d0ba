package dev.steadyrun.cli;

/** {@code java -jar steadyrun.jar ...}: the launcher script's entry point. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(Steadyrun.commandLine(Env.system()).execute(args));
    }
}
