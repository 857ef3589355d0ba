package dev.steadyrun.orchestrator.web;

import java.beans.PropertyEditorSupport;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.bind.WebDataBinder;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.bind.annotation.InitBinder;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.HandlerMapping;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

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
 * no {@code 2} for a role, no {@code "3"} for a number, no {@code 7} for a name; in parameters no {@code 0x10} or
 * {@code 1 0} for 16 and 10), and no NUL character in any text (PostgreSQL cannot store one), in bodies, map keys,
 * request parameters and path variables. One place for every endpoint, so a new field is covered without a check
 * of its own; the run spec's YAML reader applies the same rules ({@link #apply}). Line breaks stay allowed in
 * general (trainer errors are multi-line); single-line fields such as names refuse them where they are checked.
 */
@Configuration(proxyBeanMethods = false)
public class StrictInput implements WebMvcConfigurer {

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

    /** The API's JSON mapper (Spring's message converters and every injected ObjectMapper). */
    @Bean
    JsonMapperBuilderCustomizer strictJsonInput() {
        return builder -> apply(builder, false);
    }

    /**
     * Parameters and path variables: decimal integers only. Spring's own reading, which it falls back to even when a
     * converter refused, drops spaces and reads hex ({@code 0x10} was delivery 16).
     */
    @ControllerAdvice
    static class DecimalParameters {

        @InitBinder
        void decimalIntegers(WebDataBinder binder) {
            binder.registerCustomEditor(int.class, decimal(Integer::valueOf, false));
            binder.registerCustomEditor(Integer.class, decimal(Integer::valueOf, true));
            binder.registerCustomEditor(long.class, decimal(Long::valueOf, false));
            binder.registerCustomEditor(Long.class, decimal(Long::valueOf, true));
        }

        private static PropertyEditorSupport decimal(Function<String, Number> parse, boolean nullable) {
            return new PropertyEditorSupport() {
                @Override
                public void setAsText(String text) {
                    setValue(nullable && (text == null || text.isEmpty()) ? null : parse.apply(text));
                }
            };
        }
    }

    /** No NUL in a parameter or path variable: a text one reached PostgreSQL, an enum one was trimmed to nothing. */
    @Override
    public void addInterceptors(InterceptorRegistry registry) {
        registry.addInterceptor(new HandlerInterceptor() {
            @Override
            public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
                request.getParameterMap().forEach((name, values) -> {
                    if (name.indexOf('\0') >= 0 || Arrays.stream(values).anyMatch(v -> v.indexOf('\0') >= 0)) {
                        throw new BadRequestException(name, NUL_REFUSED);
                    }
                });
                if (request.getAttribute(HandlerMapping.URI_TEMPLATE_VARIABLES_ATTRIBUTE) instanceof Map<?, ?> vars) {
                    vars.forEach((name, value) -> {
                        if (String.valueOf(value).indexOf('\0') >= 0) {
                            throw new BadRequestException(String.valueOf(name), NUL_REFUSED);
                        }
                    });
                }
                return true;
            }
        }).addPathPatterns("/api/**");
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
}
