package dev.steadyrun.sdk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.TrainerProtocol;

/**
 * The agent's command line for one rank of one generation (docs/trainer-protocol.md, section 1), parsed. Every
 * malformed argument is an {@link IllegalArgumentException} naming it, which {@link TrainingSession} turns into
 * exit 2.
 *
 * @param config        the {@code --set} keys, in the order given
 * @param restore       the checkpoint to resume, or null to start from scratch
 * @param restoreSha256 the SHA-256 its manifest must have, or null
 * @param rendezvous    rank 0's host:port with several ranks, else null
 */
public record TrainerArgs(Map<String, String> config, Path checkpointDir, Path restore, String restoreSha256,
                          RestartKnobs knobs, int rank, int worldSize, long generation, String runId,
                          String rendezvous) {

    private static final List<String> OPTIONS = List.of("--set", "--checkpoint-dir", "--restore", "--restore-sha256",
            "--knob", "--rank", "--world-size", "--generation", "--run-id", "--rendezvous");

    public TrainerArgs {
        config = Collections.unmodifiableMap(new LinkedHashMap<>(config));
    }

    /**
     * @param args     the program's arguments: {@code train} and the options
     * @param protocol the value of {@link TrainerProtocol#ENV} in the environment, or null when started by hand
     */
    public static TrainerArgs parse(String[] args, String protocol) {
        if (protocol != null && !protocol.strip().equals(Integer.toString(TrainerProtocol.VERSION))) {
            throw new IllegalArgumentException(TrainerProtocol.ENV + ": this program speaks trainer protocol "
                    + TrainerProtocol.VERSION + ", the agent " + protocol.strip());
        }
        if (args.length == 0 || !args[0].equals("train")) {
            throw new IllegalArgumentException("the first argument must be 'train'");
        }
        Map<String, List<String>> values = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i += 2) {
            if (!OPTIONS.contains(args[i])) {
                throw new IllegalArgumentException("unknown option '" + args[i] + "'");
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(args[i] + ": missing value");
            }
            values.computeIfAbsent(args[i], k -> new ArrayList<>()).add(args[i + 1]);
        }
        Map<String, String> config = new LinkedHashMap<>();
        for (String kv : values.getOrDefault("--set", List.of())) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--set expects key=value, got '" + kv + "'");
            }
            config.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        String dir = one(values, "--checkpoint-dir");
        if (dir == null) {
            throw new IllegalArgumentException("--checkpoint-dir is required");
        }
        String restore = one(values, "--restore");
        String sha = one(values, "--restore-sha256");
        if (sha != null && restore == null) {
            throw new IllegalArgumentException("--restore-sha256 needs --restore");
        }
        RestartKnobs knobs;
        try {
            knobs = RestartKnobs.fromArgs(values.getOrDefault("--knob", List.of()));
        } catch (RestartKnobs.InvalidKnobException e) {
            throw new IllegalArgumentException("--knob " + e.knob() + ": " + e.reason());
        }
        int worldSize = (int) number(values, "--world-size", 1);
        int rank = (int) number(values, "--rank", 0);
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("--rank must be in [0, --world-size), was " + rank + " of " + worldSize);
        }
        return new TrainerArgs(config, Path.of(dir), restore == null ? null : Path.of(restore), sha, knobs, rank,
                worldSize, number(values, "--generation", 0), one(values, "--run-id"), one(values, "--rendezvous"));
    }

    private static String one(Map<String, List<String>> values, String name) {
        List<String> v = values.get(name);
        return v == null ? null : v.get(v.size() - 1);
    }

    private static long number(Map<String, List<String>> values, String name, long fallback) {
        String v = one(values, name);
        try {
            return v == null ? fallback : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": not a whole number: '" + v + "'");
        }
    }

    /** A {@code --set} key as text, or {@code fallback} when it was not given. */
    public String string(String key, String fallback) {
        return config.getOrDefault(key, fallback);
    }

    public long longValue(String key, long fallback) {
        String v = config.get(key);
        try {
            return v == null ? fallback : Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": not a whole number: '" + v + "'");
        }
    }

    public double real(String key, double fallback) {
        String v = config.get(key);
        try {
            double d = v == null ? fallback : Double.parseDouble(v.strip());
            if (!Double.isFinite(d)) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": not a finite number: '" + v + "'");
        }
    }

    /** A whole number above 0 (a size, a count); anything else is a bad configuration (exit 2). */
    public int positiveInt(String key, int fallback) {
        long v = longValue(key, fallback);
        if (v < 1 || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(key + ": must be a whole number from 1 to " + Integer.MAX_VALUE
                    + ", was " + v);
        }
        return (int) v;
    }

    /** A finite number above 0 (a learning rate); anything else is a bad configuration (exit 2). */
    public double positiveReal(String key, double fallback) {
        double v = real(key, fallback);
        if (!(v > 0)) {
            throw new IllegalArgumentException(key + ": must be above 0, was " + v);
        }
        return v;
    }
}
