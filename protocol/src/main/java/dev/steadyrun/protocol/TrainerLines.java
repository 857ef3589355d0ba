package dev.steadyrun.protocol;

import java.util.Optional;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes and reads the trainer's JSON metric lines. The trainer prints with {@link #write}; the agent parses
 * with {@link #parse}, which ignores anything that is not a metric line (log output that reached stdout).
 */
public final class TrainerLines {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private TrainerLines() {
    }

    public static String write(TrainerLine line) {
        return MAPPER.writeValueAsString(line);
    }

    public static Optional<TrainerLine> parse(String text) {
        if (text == null || text.isEmpty() || text.charAt(0) != '{') {
            return Optional.empty();
        }
        try {
            JsonNode node = MAPPER.readTree(text);
            String type = node.path("type").asString("");
            return switch (type) {
                case StepMetrics.TYPE -> Optional.of(MAPPER.treeToValue(node, StepMetrics.class));
                case CheckpointWritten.TYPE -> Optional.of(MAPPER.treeToValue(node, CheckpointWritten.class));
                default -> Optional.empty();
            };
        } catch (JacksonException e) {
            return Optional.empty();
        }
    }
}
