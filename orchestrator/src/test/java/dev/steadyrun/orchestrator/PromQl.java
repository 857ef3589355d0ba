package dev.steadyrun.orchestrator;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A test tool: reads a PromQL expression (of the alert rules and the Grafana dashboard) by PromQL's grammar and
 * returns the metric names its selectors use, or fails naming what it could not read. It knows the operators with
 * their precedence, {@code bool}, vector matching ({@code on}, {@code ignoring}, {@code group_left/right}),
 * aggregations with {@code by}/{@code without} and a parameter, the functions listed below (an unknown one is an
 * error, so a misspelt {@code rate} fails), label matchers, range and subquery brackets, {@code offset}, numbers,
 * durations and strings, and Grafana's {@code $variables} where a duration goes. It does not check types (a range
 * vector where an instant one is due), a function's argument count, {@code #} comments or names that start with
 * {@code :}: Prometheus does, when it loads the rules.
 */
public final class PromQl {

    private static final Set<String> AGGREGATIONS = Set.of("sum", "min", "max", "avg", "count", "stddev", "stdvar",
            "group", "topk", "bottomk", "quantile", "count_values");
    private static final Set<String> FUNCTIONS = Set.of("abs", "absent", "absent_over_time", "avg_over_time",
            "ceil", "changes", "clamp", "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week",
            "delta", "deriv", "exp", "floor", "histogram_quantile", "holt_winters", "hour", "idelta", "increase",
            "irate", "label_join", "label_replace", "last_over_time", "ln", "log2", "log10", "max_over_time",
            "min_over_time", "minute", "month", "predict_linear", "present_over_time", "quantile_over_time", "rate",
            "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
            "sum_over_time", "time", "timestamp", "vector", "year");
    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "and", "or", "unless", "atan2");
    private static final List<Set<String>> PRECEDENCE = List.of(Set.of("or"), Set.of("and", "unless"),
            Set.of("==", "!=", "<=", "<", ">=", ">"), Set.of("+", "-"), Set.of("*", "/", "%", "atan2"), Set.of("^"));

    private enum Kind { NUMBER, DURATION, STRING, IDENT, VARIABLE, PUNCT, END }

    private record Token(Kind kind, String text, int at) {
    }

    private final String source;
    private final List<Token> tokens;
    private final Set<String> metrics = new LinkedHashSet<>();
    private int next;

    private PromQl(String source) {
        this.source = source;
        this.tokens = tokenize(source);
    }

    /** The metric names of an expression's selectors, in order of appearance. */
    public static Set<String> metricNames(String expression) {
        PromQl reader = new PromQl(expression);
        reader.expression(0);
        reader.expect(Kind.END, null);
        return reader.metrics;
    }

    private void expression(int level) {
        if (level == PRECEDENCE.size()) {
            unary();
            return;
        }
        boolean rightAssociative = level == PRECEDENCE.size() - 1; // ^
        expression(level + 1);
        while (PRECEDENCE.get(level).contains(peek().text()) && peek().kind() != Kind.STRING) {
            take();
            if (level == 2 && is("bool")) {
                take();
            }
            if (is("on") || is("ignoring")) {
                take();
                labelList();
                if (is("group_left") || is("group_right")) {
                    take();
                    if (is("(")) {
                        labelList();
                    }
                }
            }
            expression(rightAssociative ? level : level + 1);
        }
    }

    private void unary() {
        if (is("-") || is("+")) {
            take();
            unary();
            return;
        }
        primary();
        if (is("[")) {
            take();
            duration();
            if (is(":")) { // a subquery: [range:step], the step optional
                take();
                if (!is("]")) {
                    duration();
                }
            }
            expect(Kind.PUNCT, "]");
        }
        if (is("offset")) {
            take();
            if (is("-")) {
                take();
            }
            duration();
        }
    }

    private void primary() {
        Token t = peek();
        switch (t.kind()) {
            case NUMBER, STRING -> take();
            case PUNCT -> {
                if (t.text().equals("(")) {
                    take();
                    expression(0);
                    expect(Kind.PUNCT, ")");
                } else if (t.text().equals("{")) {
                    matchers();
                } else {
                    throw error(t, "an expression");
                }
            }
            case IDENT -> {
                take();
                String name = t.text();
                if (AGGREGATIONS.contains(name)) {
                    aggregation();
                } else if (FUNCTIONS.contains(name)) {
                    arguments();
                } else if (KEYWORDS.contains(name)) {
                    throw error(t, "an expression, not the keyword");
                } else if (is("(")) {
                    throw error(t, "a known function");
                } else {
                    metrics.add(name);
                    if (is("{")) {
                        matchers();
                    }
                }
            }
            default -> throw error(t, "an expression");
        }
    }

    private void aggregation() {
        boolean grouped = false;
        if (is("by") || is("without")) {
            take();
            labelList();
            grouped = true;
        }
        arguments();
        if (!grouped && (is("by") || is("without"))) {
            take();
            labelList();
        }
    }

    private void arguments() {
        expect(Kind.PUNCT, "(");
        if (!is(")")) {
            expression(0);
            while (is(",")) {
                take();
                expression(0);
            }
        }
        expect(Kind.PUNCT, ")");
    }

    private void labelList() {
        expect(Kind.PUNCT, "(");
        if (!is(")")) {
            expect(Kind.IDENT, null);
            while (is(",")) {
                take();
                expect(Kind.IDENT, null);
            }
        }
        expect(Kind.PUNCT, ")");
    }

    private void matchers() {
        expect(Kind.PUNCT, "{");
        while (!is("}")) {
            expect(Kind.IDENT, null);
            Token op = take();
            if (!Set.of("=", "!=", "=~", "!~").contains(op.text()) || op.kind() != Kind.PUNCT) {
                throw error(op, "a label matcher (=, !=, =~, !~)");
            }
            expect(Kind.STRING, null);
            if (!is("}")) {
                expect(Kind.PUNCT, ",");
            }
        }
        take();
    }

    private void duration() {
        Token t = take();
        if (t.kind() != Kind.DURATION && t.kind() != Kind.VARIABLE) {
            throw error(t, "a duration");
        }
    }

    private boolean is(String text) {
        Token t = peek();
        return t.kind() != Kind.STRING && t.text().equals(text);
    }

    private Token peek() {
        return tokens.get(next);
    }

    private Token take() {
        Token t = tokens.get(next);
        if (t.kind() != Kind.END) {
            next++;
        }
        return t;
    }

    private void expect(Kind kind, String text) {
        Token t = take();
        if (t.kind() != kind || text != null && !t.text().equals(text)) {
            throw error(t, text != null ? "'" + text + "'" : kind.name().toLowerCase());
        }
    }

    private IllegalArgumentException error(Token t, String wanted) {
        String found = t.kind() == Kind.END ? "the end" : "'" + t.text() + "'";
        return new IllegalArgumentException("expected " + wanted + " at " + t.at() + ", found " + found + " in: "
                + source);
    }

    private static List<Token> tokenize(String s) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            int start = i;
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '"' || c == '\'' || c == '`') {
                i++;
                while (i < s.length() && s.charAt(i) != c) {
                    i += s.charAt(i) == '\\' && c != '`' ? 2 : 1;
                }
                if (i >= s.length()) {
                    throw new IllegalArgumentException("unterminated string at " + start + " in: " + s);
                }
                i++;
                out.add(new Token(Kind.STRING, s.substring(start + 1, i - 1), start));
            } else if (Character.isDigit(c) || c == '.' && i + 1 < s.length() && Character.isDigit(s.charAt(i + 1))) {
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.'
                        || (s.charAt(i) == '+' || s.charAt(i) == '-') && (s.charAt(i - 1) == 'e'
                        || s.charAt(i - 1) == 'E') && s.substring(start, i - 1).matches("[0-9.]+"))) {
                    i++;
                }
                String text = s.substring(start, i);
                if (text.matches("([0-9]+(ms|[smhdwy]))+")) {
                    out.add(new Token(Kind.DURATION, text, start));
                } else if (text.matches("[0-9]*\\.?[0-9]+([eE][-+]?[0-9]+)?|[0-9]+\\.")) {
                    out.add(new Token(Kind.NUMBER, text, start));
                } else {
                    throw new IllegalArgumentException("not a number or duration: '" + text + "' at " + start
                            + " in: " + s);
                }
            } else if (Character.isLetter(c) || c == '_') { // a name may hold ':' but not start with one here
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_'
                        || s.charAt(i) == ':')) {
                    i++;
                }
                String text = s.substring(start, i);
                out.add(new Token(text.equalsIgnoreCase("inf") || text.equalsIgnoreCase("nan") ? Kind.NUMBER
                        : Kind.IDENT, text, start));
            } else if (c == '$') { // Grafana: $name, ${name}, $__rate_interval
                i++;
                boolean braced = i < s.length() && s.charAt(i) == '{';
                if (braced) {
                    i++;
                }
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                if (braced) {
                    if (i >= s.length() || s.charAt(i) != '}') {
                        throw new IllegalArgumentException("unterminated ${ at " + start + " in: " + s);
                    }
                    i++;
                }
                out.add(new Token(Kind.VARIABLE, s.substring(start, i), start));
            } else {
                String two = i + 1 < s.length() ? s.substring(i, i + 2) : "";
                if (Set.of("==", "!=", "<=", ">=", "=~", "!~").contains(two)) {
                    i += 2;
                    out.add(new Token(Kind.PUNCT, two, start));
                } else if ("(){}[],:+-*/%^<>=".indexOf(c) >= 0) {
                    i++;
                    out.add(new Token(Kind.PUNCT, String.valueOf(c), start));
                } else {
                    throw new IllegalArgumentException("unexpected '" + c + "' at " + start + " in: " + s);
                }
            }
        }
        out.add(new Token(Kind.END, "", s.length()));
        return out;
    }
}
