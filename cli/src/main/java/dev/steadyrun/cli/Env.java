package dev.steadyrun.cli;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * What the CLI takes from its surroundings: environment variables, the home directory and standard input (where a
 * confirmation is answered). Passed in rather than read from {@link System} so that tests run the CLI in-process
 * with a home, variables and answers of their own.
 */
public record Env(Map<String, String> variables, Path home, InputStream stdin) {

    public static final String URL = "STEADYRUN_URL";
    public static final String TOKEN = "STEADYRUN_TOKEN";
    /** Overrides where the config file is. */
    public static final String CONFIG = "STEADYRUN_CONFIG";

    public static Env system() {
        return new Env(System.getenv(), Path.of(System.getProperty("user.home")), System.in);
    }

    String get(String name) {
        String value = variables.get(name);
        return value == null || value.isBlank() ? null : value;
    }

    /** {@code $STEADYRUN_CONFIG}, else {@code $XDG_CONFIG_HOME/steadyrun/config.yaml}, else under ~/.config. */
    Path configFile() {
        if (get(CONFIG) != null) {
            return Path.of(get(CONFIG));
        }
        Path base = get("XDG_CONFIG_HOME") != null ? Path.of(get("XDG_CONFIG_HOME")) : home.resolve(".config");
        return base.resolve("steadyrun").resolve("config.yaml");
    }
}
