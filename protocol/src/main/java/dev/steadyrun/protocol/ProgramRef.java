package dev.steadyrun.protocol;

import java.util.regex.Pattern;

/**
 * A training program by name and version: what a run spec asks for, what an admin registers and what an agent
 * says it has installed (docs/trainer-protocol.md, "Programs"). The agent alone knows how to start it; the name
 * never carries a command line.
 */
public record ProgramRef(String name, String version) {

    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
    public static final Pattern VERSION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,63}");
    /** The most programs one agent may advertise. */
    public static final int MAX_PER_AGENT = 50;
    /**
     * The built-in OPT trainer (trainer-engine), started by the agent's {@code trainer-command}: every agent has it,
     * nobody registers it, and a run spec without a program trains it. Its version is the project's.
     */
    public static final ProgramRef BUILT_IN = new ProgramRef("opt", "0.1.0");

    /** True when both parts are well formed. */
    public boolean valid() {
        return name != null && version != null && NAME.matcher(name).matches() && VERSION.matcher(version).matches();
    }

    @Override
    public String toString() {
        return name + "@" + version;
    }
}
