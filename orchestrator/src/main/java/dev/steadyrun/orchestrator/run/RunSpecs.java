package dev.steadyrun.orchestrator.run;

import org.springframework.stereotype.Component;

import tools.jackson.databind.ObjectMapper;

/** Reads a stored run's spec and its recovery policy (the run row keeps the resolved spec as JSON). */
@Component
public class RunSpecs {

    private final ObjectMapper json;

    RunSpecs(ObjectMapper json) {
        this.json = json;
    }

    public RunSpec of(Run run) {
        return json.readValue(run.getSpec(), RunSpec.class);
    }

    public RecoveryPolicy policyOf(Run run) {
        return RecoveryPolicy.parse(of(run).recoveryPolicy());
    }
}
