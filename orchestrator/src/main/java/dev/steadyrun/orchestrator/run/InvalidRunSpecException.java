package dev.steadyrun.orchestrator.run;

import java.util.List;

import dev.steadyrun.orchestrator.web.BadRequestException;

/** A run specification with one or more bad fields (400); each error names its field by JSON path. */
public class InvalidRunSpecException extends BadRequestException {

    public record FieldError(String field, String message) {
    }

    private final List<FieldError> errors;

    public InvalidRunSpecException(List<FieldError> errors) {
        super(errors.get(0).field(), errors.get(0).message());
        this.errors = List.copyOf(errors);
    }

    public List<FieldError> errors() {
        return errors;
    }
}
