package dev.steadyrun.orchestrator.run;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ProblemHandler;
import dev.steadyrun.orchestrator.web.StrictInput;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.TokenStreamContext;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.InputCoercionException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads a run spec written in YAML into the same {@link RunSpecRequest} as JSON, so it meets the same checks.
 * Every error names its field and, where the document has it, the line and column of that field's key.
 */
@Component
class RunSpecYaml {

    // As spring.jackson.deserialization does for JSON: a misspelt key is an error, not a silent default.
    // One document per spec: a second one after '---' is refused rather than ignored. The API's rules on types and
    // text (StrictInput), except that a YAML scalar such as `rack: 7` may be read as text.
    private final YAMLMapper yaml = StrictInput.apply(YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS), true)
            .build();

    /** A spec that parsed, with its text to locate later errors in. */
    final class Document {
        private final RunSpecRequest request;
        private final String text;

        private Document(RunSpecRequest request, String text) {
            this.request = request;
            this.text = text;
        }

        RunSpecRequest request() {
            return request;
        }

        /** The refusal of this spec with each field's line and column added. */
        InvalidRunSpecException locate(BadRequestException refused) {
            List<InvalidRunSpecException.FieldError> errors = refused instanceof InvalidRunSpecException invalid
                    ? invalid.errors()
                    : List.of(new InvalidRunSpecException.FieldError(refused.field(), refused.reason()));
            Map<String, TokenStreamLocation> keys = keys(text);
            return new InvalidRunSpecException(errors.stream()
                    .map(e -> at(e.field(), e.message(), keys.get(e.field()))).toList());
        }
    }

    /**
     * Parses the text; a syntax error, an unknown key or a value of the wrong type is a 400 naming the field (as
     * far as the parser got) with its line: the key's where the text parses, else where the parser stopped.
     */
    Document read(String text) {
        try {
            return new Document(text.isBlank() ? null : yaml.readValue(text, RunSpecRequest.class), text);
        } catch (JacksonException e) {
            String field = ProblemHandler.path(e);
            boolean malformed = causes(e, StreamReadException.class) && !causes(e, InputCoercionException.class);
            String message = malformed ? "malformed YAML: " + e.getOriginalMessage()
                    : e instanceof UnrecognizedPropertyException ? "unknown field" : ProblemHandler.expected(e);
            TokenStreamLocation key = malformed ? null : keys(text).get(field);
            throw new InvalidRunSpecException(List.of(at(field, message, key != null ? key : e.getLocation())));
        }
    }

    private static boolean causes(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static InvalidRunSpecException.FieldError at(String field, String message, TokenStreamLocation where) {
        boolean known = where != null && where.getLineNr() > 0;
        return new InvalidRunSpecException.FieldError(field, message, known ? where.getLineNr() : null,
                known ? where.getColumnNr() : null);
    }

    /** Where each key (and each list item) starts, by the field path the errors use: {@code hyper.lr}, {@code a[1]}. */
    private Map<String, TokenStreamLocation> keys(String text) {
        Map<String, TokenStreamLocation> keys = new HashMap<>();
        try (JsonParser p = yaml.createParser(text)) {
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                String path = path(p.streamReadContext());
                if (!path.isEmpty()) {
                    keys.putIfAbsent(path, p.currentTokenLocation());
                }
            }
        } catch (JacksonException unreadable) {
            // a syntax error past the bad value: the keys before it keep their lines, those after go without
        }
        return keys;
    }

    private static String path(TokenStreamContext context) {
        StringBuilder path = new StringBuilder();
        for (TokenStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
            String segment = c.inArray() && c.hasCurrentIndex() ? "[" + c.getCurrentIndex() + "]"
                    : c.inObject() && c.currentName() != null ? c.currentName() : null;
            if (segment != null) {
                path.insert(0, path.isEmpty() || path.charAt(0) == '[' ? segment : segment + ".");
            }
        }
        return path.toString();
    }
}
