package dev.steadyrun.orchestrator.run;

import dev.steadyrun.orchestrator.web.BadRequestException;

/** A run's recovery policy with a bad or unknown field (400), named by its JSON path under {@code recoveryPolicy}. */
public class InvalidRecoveryPolicyException extends BadRequestException {

    public InvalidRecoveryPolicyException(String field, String message) {
        super(field, message);
    }
}
