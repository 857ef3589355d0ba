package dev.steadyrun.cli;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code --knob name=value} to the restart request's {@code knobs} object. The names and types are those of
 * {@link RestartKnobs}, the protocol's record, so the CLI cannot drift from what the trainer understands.
 */
final class Knobs {

    private Knobs() {
    }

    static ObjectNode parse(Map<String, String> given) {
        Map<String, Class<?>> types = Arrays.stream(RestartKnobs.class.getRecordComponents())
                .collect(Collectors.toMap(RecordComponent::getName, RecordComponent::getType));
        ObjectNode knobs = Api.JSON.createObjectNode();
        given.forEach((name, value) -> {
            Class<?> type = types.get(name);
            if (type == null) {
                throw new Steadyrun.UsageError("--knob " + name + ": unknown; knobs are "
                        + Arrays.stream(RestartKnobs.class.getRecordComponents()).map(RecordComponent::getName)
                        .collect(Collectors.joining(", ")));
            }
            try {
                if (type == Double.class || type == double.class) {
                    knobs.put(name, Double.parseDouble(value));
                } else if (type == Long.class || type == long.class) {
                    knobs.put(name, Long.parseLong(value));
                } else if (type == Boolean.class || type == boolean.class) {
                    if (!value.equals("true") && !value.equals("false")) {
                        throw new NumberFormatException();
                    }
                    knobs.put(name, Boolean.parseBoolean(value));
                } else {
                    knobs.put(name, value);
                }
            } catch (NumberFormatException e) {
                throw new Steadyrun.UsageError("--knob " + name + ": '" + value + "' is not a "
                        + type.getSimpleName().toLowerCase(Locale.ROOT));
            }
        });
        return knobs;
    }
}
