package dev.steadyrun.protocol;

import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The optional control channel of trainer protocol 1 (docs/trainer-protocol.md, "Warm restart"): how an agent keeps
 * a trainer's process across generations. The agent names a file in {@link #ENV}; it appends one JSON message per
 * line there ({@link Leave}, {@link Assign}), the trainer reads the lines as they come. The trainer declares that it
 * understands them with a {@link Hello} line on stdout, and acknowledges every generation it leaves with a
 * {@link Left} line; a program that prints no hello is only ever stopped and launched (the cold path).
 */
public final class TrainerControl {

    /** The environment variable naming the control file (owner-only, in the agent's private folder). */
    public static final String ENV = "STEADYRUN_CONTROL_FILE";
    /** The control channel's version, declared by the trainer's hello. */
    public static final int VERSION = 1;
    /** The first argument that starts a trainer in standby: initialised, waiting for its first {@link Assign}. */
    public static final String STANDBY = "standby";

    /**
     * The stderr line a trainer prints, with the generation, just before its {@link Left} line: the agent waits for
     * it so that the exit it reports carries the generation's whole log tail (stderr and stdout are separate pipes).
     */
    public static final String LEFT_ON_STDERR = "steadyrun-control: left generation ";

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private TrainerControl() {
    }

    /** Agent to trainer. */
    public sealed interface Message permits Leave, Assign {
    }

    /** Trainer to agent, on stdout among the metric lines. */
    public sealed interface Reply permits Hello, Left {
    }

    /**
     * Stop {@code generation} at the next step boundary, as SIGTERM would (pending checkpoints complete and are
     * printed), leave its ring, and wait for the next {@link Assign} instead of exiting.
     */
    public record Leave(String type, long generation) implements Message {
        public static final String TYPE = "leave";

        public Leave(long generation) {
            this(TYPE, generation);
        }
    }

    /**
     * Join a generation: {@code args} are exactly the arguments a cold launch would get after the command
     * ({@code train --set …}), {@code ringSecret} what it would find in {@link RingSecret#ENV} (null for one rank).
     */
    public record Assign(String type, List<String> args, String ringSecret) implements Message {
        public static final String TYPE = "assign";

        public Assign(List<String> args, String ringSecret) {
            this(TYPE, List.copyOf(args), ringSecret);
        }
    }

    /** The trainer reads the control file: it may be handed generations instead of being relaunched. */
    public record Hello(String type, int control) implements Reply {
        public static final String TYPE = "control";

        public Hello() {
            this(TYPE, VERSION);
        }
    }

    /**
     * The trainer left {@code generation}: it prints no other line of it after this one, and has closed its ring.
     * {@code exitCode} is the code it would have exited with (143 asked to leave, 5 a peer lost, 6 stale).
     */
    public record Left(String type, long generation, int exitCode) implements Reply {
        public static final String TYPE = "left";

        public Left(long generation, int exitCode) {
            this(TYPE, generation, exitCode);
        }
    }

    public static String write(Object message) {
        return MAPPER.writeValueAsString(message);
    }

    /** A control message the agent wrote, or empty for anything else. */
    public static Optional<Message> parseMessage(String text) {
        return parse(text, node -> switch (node.path("type").asString("")) {
            case Leave.TYPE -> MAPPER.treeToValue(node, Leave.class);
            case Assign.TYPE -> MAPPER.treeToValue(node, Assign.class);
            default -> null;
        });
    }

    /** A reply the trainer printed, or empty for anything else (metric lines, log output). */
    public static Optional<Reply> parseReply(String text) {
        return parse(text, node -> switch (node.path("type").asString("")) {
            case Hello.TYPE -> MAPPER.treeToValue(node, Hello.class);
            case Left.TYPE -> MAPPER.treeToValue(node, Left.class);
            default -> null;
        });
    }

    private static <T> Optional<T> parse(String text, Function<JsonNode, T> byType) {
        if (text == null || text.isEmpty() || text.charAt(0) != '{') {
            return Optional.empty();
        }
        try {
            return Optional.ofNullable(byType.apply(MAPPER.readTree(text)));
        } catch (JacksonException e) {
            return Optional.empty();
        }
    }
}
