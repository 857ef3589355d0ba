package dev.steadyrun.orchestrator.run;

/**
 * A run that could never be placed: it asks for more nodes than the fleet can schedule (422, naming the field).
 */
public class FleetTooSmallException extends RuntimeException {

    private final String field;

    public FleetTooSmallException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
