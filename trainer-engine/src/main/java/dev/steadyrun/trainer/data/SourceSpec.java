package dev.steadyrun.trainer.data;

import java.nio.file.Path;

/**
 * One named input source: a file or a directory (all regular, non-hidden files below it, in path order).
 * {@code weight} is how many times each surviving document is written, in expectation: 2 writes it twice, 0.5
 * writes a deterministic half (chosen by content hash). Sources are interleaved in proportion to their size, so
 * every shard holds the mix. A null {@code format} is guessed from each file's name ({@link SourceFormat#guess}).
 */
public record SourceSpec(String name, Path path, double weight, SourceFormat format, String field,
                         boolean normalize) {

    public static final String DEFAULT_FIELD = "text";

    public SourceSpec {
        if (name == null || name.isBlank() || !name.matches("[A-Za-z0-9_.-]+")) {
            throw new IllegalArgumentException("source name '" + name + "' must be letters, digits, '_', '.', '-'");
        }
        if (path == null) {
            throw new IllegalArgumentException("source '" + name + "': path is required");
        }
        if (!(weight >= 0) || Double.isInfinite(weight)) {
            throw new IllegalArgumentException("source '" + name + "': weight must be a finite number >= 0, was "
                    + weight);
        }
        if (field == null || field.isBlank()) {
            field = DEFAULT_FIELD;
        }
    }

    /** A source with defaults: weight 1, format guessed from file names, field "text", normalized. */
    public static SourceSpec of(String name, Path path) {
        return new SourceSpec(name, path, 1.0, null, null, true);
    }

    /** Parses {@code name=PATH[,weight=W][,format=F][,field=F][,normalize=true|false]}. */
    public static SourceSpec parse(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("--source '" + spec + "' must look like name=PATH[,weight=W]"
                    + "[,format=text|lines|jsonl|jsonl.gz|europarl][,field=F][,normalize=true|false]");
        }
        String name = spec.substring(0, eq);
        String[] parts = spec.substring(eq + 1).split(",");
        Path path = Path.of(parts[0]);
        double weight = 1.0;
        SourceFormat format = null;
        String field = null;
        boolean normalize = true;
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("--source " + name + ": option '" + parts[i] + "' is not key=value");
            }
            switch (kv[0]) {
                case "weight" -> {
                    try {
                        weight = Double.parseDouble(kv[1]);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--source " + name + ": weight '" + kv[1]
                                + "' is not a number");
                    }
                }
                case "format" -> format = SourceFormat.parse(kv[1]);
                case "field" -> field = kv[1];
                case "normalize" -> {
                    if (!kv[1].equals("true") && !kv[1].equals("false")) {
                        throw new IllegalArgumentException("--source " + name + ": normalize must be true or false");
                    }
                    normalize = Boolean.parseBoolean(kv[1]);
                }
                default -> throw new IllegalArgumentException("--source " + name + ": unknown option '" + kv[0]
                        + "' (weight, format, field, normalize)");
            }
        }
        return new SourceSpec(name, path, weight, format, field, normalize);
    }
}
