package dev.steadyrun.orchestrator.run;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/**
 * The run feature's problem details in the shape the rest of the API uses ({@code field} for the first bad
 * field, {@code errors: [{field, message}]} for all); a YAML spec's errors add {@code line} and {@code column}.
 * Ordered first so that it wins over the catch-all handler.
 */
@RestControllerAdvice
@Order(Ordered.HIGHEST_PRECEDENCE)
class RunProblems {

    @ExceptionHandler(InvalidRunSpecException.class)
    ResponseEntity<ProblemDetail> invalidSpec(InvalidRunSpecException e) {
        return problem(HttpStatus.BAD_REQUEST, e.getMessage(), e.errors());
    }

    @ExceptionHandler(FleetTooSmallException.class)
    ResponseEntity<ProblemDetail> fleetTooSmall(FleetTooSmallException e) {
        return problem(HttpStatus.UNPROCESSABLE_CONTENT, e.getMessage(),
                List.of(new InvalidRunSpecException.FieldError(e.field(), e.getMessage().substring(e.field().length() + 2))));
    }

    private static ResponseEntity<ProblemDetail> problem(HttpStatus status, String detail,
                                                         List<InvalidRunSpecException.FieldError> errors) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
        InvalidRunSpecException.FieldError first = errors.get(0);
        problem.setProperty("field", first.field());
        if (first.line() != null) {
            problem.setProperty("line", first.line());
            problem.setProperty("column", first.column());
        }
        problem.setProperty("errors", errors.stream().map(RunProblems::entry).toList());
        return ResponseEntity.status(status).body(problem);
    }

    private static Map<String, Object> entry(InvalidRunSpecException.FieldError error) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("field", error.field());
        entry.put("message", error.message());
        if (error.line() != null) {
            entry.put("line", error.line());
            entry.put("column", error.column());
        }
        return entry;
    }
}
