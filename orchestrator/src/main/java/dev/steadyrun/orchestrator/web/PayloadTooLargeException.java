package dev.steadyrun.orchestrator.web;

import java.io.IOException;

/**
 * A request body above {@code steadyrun.api.max-body-size} (413). An IOException because it is thrown from
 * inside the request stream while the body is read.
 */
public class PayloadTooLargeException extends IOException {

    public PayloadTooLargeException(long limit) {
        super("request body exceeds the limit of " + limit + " bytes");
    }
}
