package dev.steadyrun.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

import picocli.CommandLine.Option;

import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;
import tools.jackson.dataformat.yaml.YAMLWriteFeature;

/**
 * {@code -o table|json|yaml} for every command that prints what the API answered. JSON and YAML print the answer
 * as it came; a table prints chosen columns: one row per item for a list, one line per column for a single item.
 */
final class Output {

    enum Format { table, json, yaml }

    /** One column: its header and how to get its cell from an item. */
    record Column(String header, Function<JsonNode, String> cell) {

        /** A column that shows the value at a JSON pointer such as {@code /spec/model/size}. */
        static Column of(String header, String pointer) {
            return new Column(header, item -> text(item.at(pointer)));
        }
    }

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
            description = "table, json or yaml (default: ${DEFAULT-VALUE})")
    Format format;

    static final YAMLMapper YAML = YAMLMapper.builder()
            .disable(YAMLWriteFeature.WRITE_DOC_START_MARKER)
            .enable(YAMLWriteFeature.MINIMIZE_QUOTES)
            .build();

    void print(PrintWriter out, JsonNode value, List<Column> columns) {
        switch (format) {
            case json -> out.println(Api.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value));
            case yaml -> out.print(YAML.writeValueAsString(value));
            case table -> {
                if (value.isArray()) {
                    rows(out, value, columns);
                } else {
                    int width = columns.stream().mapToInt(c -> c.header().length()).max().orElse(0);
                    for (Column c : columns) {
                        out.println(pad(c.header(), width) + "  " + c.cell().apply(value));
                    }
                }
            }
        }
        out.flush();
    }

    /**
     * One page of a listing ({@code items, page, size, total}): JSON and YAML print it whole; a table prints the
     * items and says when there are more pages.
     */
    void printPage(PrintWriter out, JsonNode page, List<Column> columns, String what) {
        if (format != Format.table) {
            print(out, page, columns);
            return;
        }
        JsonNode items = page.path("items");
        print(out, items, columns);
        long total = page.path("total").asLong();
        if (total > items.size()) {
            out.printf("(%d of %d %s; --page %d for more)%n", items.size(), total, what, page.path("page").asInt() + 1);
            out.flush();
        }
    }

    private static void rows(PrintWriter out, JsonNode items, List<Column> columns) {
        List<String[]> lines = new ArrayList<>();
        lines.add(columns.stream().map(Column::header).toArray(String[]::new));
        for (JsonNode item : items) {
            lines.add(columns.stream().map(c -> c.cell().apply(item)).toArray(String[]::new));
        }
        int[] widths = new int[columns.size()];
        for (String[] line : lines) {
            for (int i = 0; i < line.length; i++) {
                widths[i] = Math.max(widths[i], line[i].length());
            }
        }
        for (String[] line : lines) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < line.length; i++) {
                sb.append(i == line.length - 1 ? line[i] : pad(line[i], widths[i] + 2));
            }
            out.println(sb.toString().stripTrailing());
        }
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    /** A cell: '-' for nothing, numbers as the API wrote them, nested values as compact JSON. */
    static String text(JsonNode value) {
        if (value == null || value.isMissingNode() || value.isNull()) {
            return "-";
        }
        if (value.isContainer()) {
            return value.isEmpty() ? "-" : Api.JSON.writeValueAsString(value);
        }
        return value.asString();
    }

    /** Labels as {@code key=value,key=value}, or '-'. */
    static String labels(JsonNode labels) {
        List<String> pairs = new ArrayList<>();
        labels.properties().forEach(e -> pairs.add(e.getKey() + "=" + e.getValue().asString()));
        return pairs.isEmpty() ? "-" : String.join(",", pairs);
    }

    /** A number with {@code digits} significant digits, or '-'. */
    static String number(JsonNode value, int digits) {
        if (value == null || !value.isNumber()) {
            return "-";
        }
        return String.format(Locale.ROOT, "%." + digits + "g", value.doubleValue());
    }

    /** An API timestamp to the second, in UTC: {@code 2030-01-01 12:00:05Z}. */
    static String time(JsonNode value) {
        if (value == null || !value.isString()) {
            return "-";
        }
        try {
            return Instant.parse(value.asString()).truncatedTo(ChronoUnit.SECONDS).toString().replace('T', ' ');
        } catch (DateTimeParseException e) {
            return value.asString();
        }
    }
}
