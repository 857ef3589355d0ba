package dev.steadyrun.orchestrator.run;

import java.util.List;

import dev.steadyrun.orchestrator.web.BadRequestException;

/** A run specification with one or more bad fields (400); each error names its field by JSON path. */
public class InvalidRunSpecException extends BadRequestException {

    /** @param line where the field stands in a YAML spec (1-based, with its column); null when unknown */
    public record FieldError(String field, String message, Integer line, Integer column) {

        public FieldError(String field, String message) {
            this(field, message, null, null);
        }
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
