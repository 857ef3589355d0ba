package dev.steadyrun.orchestrator.web;

/**
 * Input the API refuses (400), naming the offending field (a JSON path such as {@code gpus[0].index}) so the
 * caller can fix it. Mapped to its status in {@link ProblemHandler}.
 */
public class BadRequestException extends RuntimeException {

    private final String field;

    public BadRequestException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }

    /** The message without the field prefix. */
    public String reason() {
        return getMessage().substring(field.length() + 2);
    }
}
