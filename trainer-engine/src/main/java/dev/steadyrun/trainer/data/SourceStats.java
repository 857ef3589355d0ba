package dev.steadyrun.trainer.data;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Counters for one source during a prepare run (single-threaded). */
final class SourceStats {

    final String name;
    long files;
    long documentsIn;          // records read: lines, JSON objects or files, good or bad
    long bytesIn;              // UTF-8 bytes of the records read
    long exactDuplicates;
    long nearDuplicates;
    long documentsKept;        // survived bad-input checks and both dedup passes
    long sampledOut;           // kept but written 0 times because weight < 1
    long documentsWritten;     // including repeats for weight > 1
    long trainTokens;
    long valTokens;
    final EnumMap<BadInput, Long> bad = new EnumMap<>(BadInput.class);

    SourceStats(String name) {
        this.name = name;
    }

    void bad(BadInput kind) {
        bad.merge(kind, 1L, Long::sum);
    }

    PrepareReport.Source toReport() {
        return new PrepareReport.Source(name, files, documentsIn, bytesIn, byName(bad), exactDuplicates,
                nearDuplicates, documentsKept, sampledOut, documentsWritten, trainTokens, valTokens);
    }

    /** Bad-input counts keyed by kind in lower case, in declaration order, for the report. */
    static Map<String, Long> byName(Map<BadInput, Long> counts) {
        Map<String, Long> byName = new LinkedHashMap<>();
        counts.forEach((k, v) -> byName.put(k.name().toLowerCase(Locale.ROOT), v));
        return byName;
    }
}
