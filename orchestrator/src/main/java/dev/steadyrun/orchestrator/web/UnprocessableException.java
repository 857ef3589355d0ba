package dev.steadyrun.orchestrator.web;

/**
 * Well-formed input that names something that does not exist where it must (422), naming the field. Mapped to its
 * status in {@link ProblemHandler}.
 */
public class UnprocessableException extends BadRequestException {

    public UnprocessableException(String field, String message) {
        super(field, message);
    }
}
