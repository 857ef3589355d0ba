package dev.steadyrun.agent;

import java.time.Clock;

/**
 * {@code java dev.steadyrun.agent.Main --url http://orchestrator:8080 --join-token … [--config agent.properties]}.
 * See {@code docs/agent.md} for every setting.
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) throws InterruptedException {
        AgentConfig config;
        try {
            config = AgentConfig.load(args, System.getenv());
        } catch (AgentConfig.InvalidConfigException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        Agent agent = new Agent(config, Clock.systemUTC());
        Runtime.getRuntime().addShutdownHook(new Thread(agent::stop, "agent-shutdown"));
        agent.start();
        Thread.currentThread().join();
    }
}
