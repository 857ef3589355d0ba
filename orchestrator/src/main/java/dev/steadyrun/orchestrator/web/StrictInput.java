package dev.steadyrun.orchestrator.web;

import java.beans.PropertyEditorSupport;

import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.bind.WebDataBinder;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.bind.annotation.InitBinder;

import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.databind.DeserializationContext;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.KeyDeserializer;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.cfg.EnumFeature;
import tools.jackson.databind.cfg.MapperBuilder;
import tools.jackson.databind.deser.jdk.StringDeserializer;
import tools.jackson.databind.deser.std.StdScalarDeserializer;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.module.SimpleModule;
import tools.jackson.databind.type.LogicalType;

/**
 * What the API reads besides well-formed JSON: a value of exactly its field's type (no {@code 1.5} for an integer,
 * no {@code 2} for a role, no {@code "3"} for a number, no {@code 7} for a name), and no NUL character in any text
 * (PostgreSQL cannot store one), in bodies and in request parameters. One place for every request DTO, so a new
 * field is covered without a check of its own; the run spec's YAML reader applies the same rules
 * ({@link #apply}). Line breaks stay allowed in general (trainer errors are multi-line); single-line fields such as
 * names refuse them where they are checked.
 */
@ControllerAdvice
public class StrictInput {

    static final String NUL_REFUSED = "must not contain NUL (\\u0000) characters";

    /**
     * The rules on a mapper builder. {@code textFromScalars}: whether a number or boolean may be read as text; JSON
     * says no, YAML says yes (a YAML author writes {@code rack: 7} and means the text "7").
     */
    public static <B extends MapperBuilder<?, B>> B apply(B builder, boolean textFromScalars) {
        builder.disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .enable(EnumFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS) // "3" is not a number, 1 is not a boolean
                .addModule(new SimpleModule("steadyrun-strict-input")
                        .addDeserializer(String.class, new NoNulString())
                        .addKeyDeserializer(String.class, new NoNulKey()));
        if (!textFromScalars) {
            builder.withCoercionConfig(LogicalType.Textual, text -> text
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail));
        }
        return builder;
    }

    /** Request parameters and path variables read as text: the same NUL rule (a 400 naming the parameter). */
    @InitBinder
    void refuseNulInParameters(WebDataBinder binder) {
        binder.registerCustomEditor(String.class, new PropertyEditorSupport() {
            @Override
            public void setAsText(String text) {
                if (text != null && text.indexOf('\0') >= 0) {
                    throw new IllegalArgumentException(NUL_REFUSED);
                }
                setValue(text);
            }
        });
    }

    /** A value refused for its content rather than its type: its message is meant for the caller as it is. */
    public static final class RefusedValue extends MismatchedInputException {
        RefusedValue(JsonParser p, String message) {
            super(p, message, String.class);
        }
    }

    private static final class NoNulString extends StdScalarDeserializer<String> {
        NoNulString() {
            super(String.class);
        }

        @Override
        public LogicalType logicalType() {
            return LogicalType.Textual;
        }

        @Override
        public String deserialize(JsonParser p, DeserializationContext ctxt) throws JacksonException {
            String value = StringDeserializer.instance.deserialize(p, ctxt);
            if (value != null && value.indexOf('\0') >= 0) {
                throw new RefusedValue(p, NUL_REFUSED);
            }
            return value;
        }
    }

    private static final class NoNulKey extends KeyDeserializer {
        @Override
        public Object deserializeKey(String key, DeserializationContext ctxt) throws JacksonException {
            if (key.indexOf('\0') >= 0) {
                throw new RefusedValue(ctxt.getParser(), "keys " + NUL_REFUSED);
            }
            return key;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class StrictJson {

        /** The API's JSON mapper (Spring's message converters and every injected ObjectMapper). */
        @Bean
        JsonMapperBuilderCustomizer strictJsonInput() {
            return builder -> apply(builder, false);
        }
    }
}
