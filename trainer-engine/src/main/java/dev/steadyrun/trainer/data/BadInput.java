package dev.steadyrun.trainer.data;

/** Kinds of input that {@code prepare} skips; every skip is counted under its kind, per source. */
public enum BadInput {
    /** Bytes that are not valid UTF-8 (the whole document is skipped, not repaired). */
    INVALID_UTF8,
    /** A document that is empty, or only whitespace, after normalization. */
    EMPTY_DOCUMENT,
    /** A line (or a whole-file text document) longer than {@code maxDocumentBytes}; skipped without buffering it. */
    OVERSIZED_DOCUMENT,
    /** A gzip stream that ends early; the documents before the cut are kept, the partial one is counted here. */
    TRUNCATED_GZIP,
    /** A gzip stream with corrupt data; the documents before the damage are kept. */
    CORRUPT_GZIP,
    /** A JSONL line that is not a JSON object. */
    MALFORMED_JSON,
    /** A JSON object without the configured text field (or with a non-string value), or a Europarl line with
     *  fewer than three tab-separated fields. */
    MISSING_FIELD,
    /** A file that could not be opened or read. */
    UNREADABLE_FILE
}
