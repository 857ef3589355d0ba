package dev.steadyrun.orchestrator.web;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.temporal.Temporal;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.TypeMismatchException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.InputCoercionException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.databind.exc.ValueInstantiationException;

/**
 * Every API error as an RFC 9457 problem detail. Our own exceptions get their status from {@link #STATUS}, the one
 * map from exception type to status; Spring's own (404 for unknown paths, 405, 415...) come from the superclass.
 * Bad input names the field: {@code field} for the first one and {@code errors: [{field, message}]} for all.
 */
@RestControllerAdvice
public class ProblemHandler extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);

    static final Map<Class<? extends Exception>, HttpStatus> STATUS = Map.of(
            UnprocessableException.class, HttpStatus.UNPROCESSABLE_CONTENT,
            BadRequestException.class, HttpStatus.BAD_REQUEST,
            UnauthorizedException.class, HttpStatus.UNAUTHORIZED,
            ForbiddenException.class, HttpStatus.FORBIDDEN,
            NotFoundException.class, HttpStatus.NOT_FOUND,
            ConflictException.class, HttpStatus.CONFLICT,
            PayloadTooLargeException.class, HttpStatus.CONTENT_TOO_LARGE,
            ServiceUnavailableException.class, HttpStatus.SERVICE_UNAVAILABLE);

    @ExceptionHandler({BadRequestException.class, UnauthorizedException.class, ForbiddenException.class,
            NotFoundException.class, ConflictException.class, PayloadTooLargeException.class,
            ServiceUnavailableException.class})
    ResponseEntity<ProblemDetail> handleApi(Exception e) {
        HttpStatus status = STATUS.get(e.getClass());
        if (status == null) { // a subclass: walk up to the mapped type
            status = STATUS.entrySet().stream().filter(en -> en.getKey().isInstance(e)).findFirst()
                    .map(Map.Entry::getValue).orElse(HttpStatus.INTERNAL_SERVER_ERROR);
        }
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, e.getMessage());
        if (e instanceof BadRequestException bad) {
            withField(problem, bad.field(), bad.reason());
        }
        HttpHeaders headers = new HttpHeaders();
        if (status == HttpStatus.UNAUTHORIZED) {
            headers.set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
        }
        if (e instanceof ServiceUnavailableException unavailable) {
            headers.set(HttpHeaders.RETRY_AFTER,
                    Long.toString(Math.max(1, (unavailable.retryAfter().toMillis() + 999) / 1000)));
        }
        return ResponseEntity.status(status).headers(headers).body(problem);
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof PayloadTooLargeException tooLarge) {
                return ResponseEntity.status(HttpStatus.CONTENT_TOO_LARGE)
                        .body(ProblemDetail.forStatusAndDetail(HttpStatus.CONTENT_TOO_LARGE, tooLarge.getMessage()));
            }
        }
        ProblemDetail problem = ProblemDetail.forStatus(HttpStatus.BAD_REQUEST);
        Throwable cause = ex.getMostSpecificCause();
        for (Throwable t = ex.getCause(); t != null && !(cause instanceof JacksonException); t = t.getCause()) {
            if (t instanceof JacksonException) { // a value parser failed below it (a date-time): this names the field
                cause = t;
            }
        }
        if (cause instanceof UnrecognizedPropertyException unknown) {
            String field = path(unknown);
            problem.setDetail("unknown field '" + field + "'");
            withField(problem, field, "unknown field");
        } else if (cause instanceof StreamReadException && !(cause instanceof InputCoercionException)) {
            problem.setDetail("malformed JSON: " + ((JacksonException) cause).getOriginalMessage());
        } else if (cause instanceof JacksonException jackson) {
            // a number out of its field's range comes from the parser, and still names the field
            String field = path(jackson);
            String message = expected(jackson);
            problem.setDetail(field + ": " + message);
            withField(problem, field, message);
        } else {
            problem.setDetail(ex.getMessage() != null && ex.getMessage().startsWith("Required request body")
                    ? "request body is missing" : "unreadable request body");
        }
        return ResponseEntity.badRequest().body(problem);
    }

    @Override
    protected ResponseEntity<Object> handleMethodArgumentNotValid(MethodArgumentNotValidException ex,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, "invalid request");
        List<Map<String, String>> errors = ex.getBindingResult().getFieldErrors().stream()
                .map(f -> Map.of("field", f.getField(), "message", String.valueOf(f.getDefaultMessage())))
                .toList();
        if (!errors.isEmpty()) {
            problem.setDetail(errors.get(0).get("field") + ": " + errors.get(0).get("message"));
            problem.setProperty("field", errors.get(0).get("field"));
        }
        problem.setProperty("errors", errors);
        return ResponseEntity.badRequest().body(problem);
    }

    @Override
    protected ResponseEntity<Object> handleTypeMismatch(TypeMismatchException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        String field = ex instanceof MethodArgumentTypeMismatchException m ? m.getName() : ex.getPropertyName();
        String message = expected(ex.getRequiredType());
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, field + ": " + message);
        withField(problem, field, message);
        return ResponseEntity.badRequest().body(problem);
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<ProblemDetail> handleUnexpected(Exception e) {
        log.error("Unhandled error", e);
        return ResponseEntity.internalServerError()
                .body(ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR, "internal error"));
    }

    private static void withField(ProblemDetail problem, String field, String message) {
        problem.setProperty("field", field);
        problem.setProperty("errors", List.of(Map.of("field", field, "message", message)));
    }

    /**
     * What a value the mapper refused should have been, in the caller's terms: "an integer from ... to ...", "one of:
     * VIEWER, OPERATOR, ADMIN". Never the mapper's own message, which names Java types.
     */
    public static String expected(JacksonException e) {
        if (e instanceof StrictInput.RefusedValue) {
            return e.getOriginalMessage();
        }
        if (e instanceof ValueInstantiationException) { // a record's own check refused the value
            return e.getCause() instanceof IllegalArgumentException refused && refused.getMessage() != null
                    ? refused.getMessage() : "is invalid";
        }
        Class<?> target = e instanceof MismatchedInputException m ? m.getTargetType()
                : e instanceof InputCoercionException c ? c.getTargetType() : null;
        return expected(target);
    }

    static String expected(Class<?> type) {
        if (type == null) {
            return "has the wrong type";
        }
        if (type == int.class || type == Integer.class) {
            return "must be an integer from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE;
        }
        if (type == long.class || type == Long.class) {
            return "must be an integer from " + Long.MIN_VALUE + " to " + Long.MAX_VALUE;
        }
        if (type == short.class || type == Short.class || type == byte.class || type == Byte.class
                || type == BigInteger.class) {
            return "must be an integer";
        }
        if (type == double.class || type == Double.class || type == float.class || type == Float.class
                || type == BigDecimal.class) {
            return "must be a number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "must be true or false";
        }
        if (CharSequence.class.isAssignableFrom(type)) {
            return "must be a string";
        }
        if (type.isEnum()) {
            return "must be one of: " + Arrays.stream(type.getEnumConstants()).map(c -> ((Enum<?>) c).name())
                    .collect(Collectors.joining(", "));
        }
        if (type == UUID.class) {
            return "must be a UUID";
        }
        if (Temporal.class.isAssignableFrom(type)) {
            return "must be an ISO 8601 date-time";
        }
        if (type.isArray() || Collection.class.isAssignableFrom(type)) {
            return "must be an array";
        }
        if (JsonNode.class.isAssignableFrom(type)) {
            return "must be a JSON value";
        }
        return "must be an object";
    }

    /** A JSON path such as {@code gpus[0].index}. */
    public static String path(JacksonException e) {
        StringBuilder sb = new StringBuilder();
        for (JacksonException.Reference ref : e.getPath()) {
            if (ref.getPropertyName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.isEmpty() ? "(body)" : sb.toString();
    }
}
