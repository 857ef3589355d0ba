package dev.steadyrun.orchestrator.security;

/**
 * Who made an operator API call; declare it as a controller method parameter to get it. {@link #actor()} is
 * what audit rows record ({@code operator:<token name>}).
 */
public record Caller(String name, Role role) {

    static final String ATTRIBUTE = Caller.class.getName();

    public String actor() {
        return "operator:" + name;
    }
}
