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
        return policyOf(run.getSpec());
    }

    /** The recovery policy of a run's stored spec (the JSON of its {@code spec} column). */
    public RecoveryPolicy policyOf(String spec) {
        return RecoveryPolicy.parse(json.readValue(spec, RunSpec.class).recoveryPolicy());
    }
}
