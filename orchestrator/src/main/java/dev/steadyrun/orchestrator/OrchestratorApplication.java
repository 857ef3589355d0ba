package dev.steadyrun.orchestrator;

import java.time.Clock;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.annotation.Bean;
import org.springframework.scheduling.annotation.EnableScheduling;

/** The Steadyrun orchestrator: node registry and health, runs, scheduling and the operator API. */
@SpringBootApplication
@ConfigurationPropertiesScan
@EnableScheduling
public class OrchestratorApplication {

    public static void main(String[] args) {
        SpringApplication.run(OrchestratorApplication.class, args);
    }

    /** Every detector reads time from this clock so that tests can move it instead of sleeping. */
    @Bean
    Clock clock() {
        return Clock.systemUTC();
    }
}
