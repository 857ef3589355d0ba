package dev.steadyrun.agent.sim;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * TEST TOOL — what the simulated fleet's synthetic trainers do, read from a JSON scenario file.
 *
 * @param stepMillis      wall time of one synthetic step
 * @param maxSteps        the trainer exits 0 at this step (a {@code maxSteps} trainer config entry wins)
 * @param checkpointEvery a checkpoint line every this many steps
 * @param tokensPerStep   tokens a step adds to {@code tokensSeen}
 * @param loss            the loss curve
 * @param faults          faults at given steps on given nodes, each fired once per node
 */
public record Scenario(long stepMillis, long maxSteps, long checkpointEvery, long tokensPerStep, LossCurve loss,
                       List<Fault> faults) {

    /** {@code floor + (initial - floor) · 2^(-step / halfLifeSteps)}, times {@code 1 + noise·N(0,1)}. */
    public record LossCurve(double initial, double floor, double halfLifeSteps, double noise) {
        double at(long step, double gaussian) {
            return (floor + (initial - floor) * Math.pow(2, -step / halfLifeSteps)) * (1 + noise * gaussian);
        }
    }

    /**
     * @param node     the simulated node's index (0-based)
     * @param kind     {@code xid} (with {@code code}, {@code gpu}), {@code crash} (with {@code exitCode}),
     *                 {@code hang} (no more steps: the local watchdog must catch it), {@code divergence} (loss NaN,
     *                 then exit 4)
     */
    public record Fault(int node, long atStep, String kind, int code, int gpu, int exitCode) {
    }

    static final List<String> FAULT_KINDS = List.of("xid", "crash", "hang", "divergence");

    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    public Scenario {
        List<String> problems = new ArrayList<>();
        if (stepMillis <= 0) {
            problems.add("stepMillis must be positive");
        }
        if (checkpointEvery <= 0) {
            problems.add("checkpointEvery must be positive");
        }
        if (loss == null) {
            problems.add("loss is required ({initial, floor, halfLifeSteps, noise})");
        } else if (loss.halfLifeSteps() <= 0) {
            problems.add("loss.halfLifeSteps must be positive");
        }
        faults = faults == null ? List.of() : List.copyOf(faults);
        for (int i = 0; i < faults.size(); i++) {
            if (!FAULT_KINDS.contains(faults.get(i).kind())) {
                problems.add("faults[" + i + "].kind must be one of " + FAULT_KINDS + ", got '"
                        + faults.get(i).kind() + "'");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid scenario: " + String.join("; ", problems));
        }
    }

    public static Scenario read(Path file) throws IOException {
        try {
            return JSON.readValue(file.toFile(), Scenario.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("invalid scenario " + file + ": " + e.getOriginalMessage(), e);
        }
    }

    public static Scenario parse(String json) {
        try {
            return JSON.readValue(json, Scenario.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("invalid scenario: " + e.getOriginalMessage(), e);
        }
    }
}
