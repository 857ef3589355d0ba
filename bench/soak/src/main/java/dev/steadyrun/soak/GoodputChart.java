package dev.steadyrun.soak;

import java.util.List;
import java.util.Locale;

/**
 * The goodput report as a picture (report.svg): per cause, the mean real seconds a failure cost us, stacked by
 * detection, stop, restart, restore and lost work, under a bar of what the same failure cost the baseline; then the
 * projected goodput of both at each MTTF anchor; then the soak's goodput minute by minute, with its failures. Plain SVG, so a browser or a Markdown viewer shows it as it is.
 */
final class GoodputChart {

    static final String[] PARTS = {"detection", "stop", "restart", "restore", "lost work"};
    private static final String[] COLOURS = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#edc948"};
    private static final String BASELINE = "#9c9c9c";
    private static final String FAILURE = "#d62728";
    private static final int WIDTH = 900, LABEL = 150, RIGHT = 90, ROW = 18, GAP = 10, TIME_HEIGHT = 120;

    private GoodputChart() {
    }

    /** The mean of each part of one cause's failures, in the order of {@link #PARTS}. */
    static double[] parts(GoodputReport.CauseRow c) {
        return new double[]{c.detect().mean(), c.stop().mean(), c.restart().mean(), c.restore().mean(),
                c.lostWork().mean()};
    }

    static String svg(GoodputReport.Result r) {
        return svg(r, List.of());
    }

    /** With {@code overTime} not empty, a third section: goodput per minute of the soak, failures marked. */
    static String svg(GoodputReport.Result r, List<GoodputReport.Minute> overTime) {
        List<GoodputReport.CauseRow> causes = r.causes();
        double max = 1;
        for (GoodputReport.CauseRow c : causes) {
            max = Math.max(max, Math.max(sum(parts(c)), c.meanBaselineTotal()));
        }
        int plot = WIDTH - LABEL - RIGHT;
        int lossTop = 60;
        int lossHeight = causes.size() * (2 * ROW + GAP);
        int goodTop = lossTop + lossHeight + 70;
        int timeTop = goodTop + r.projections().size() * (2 * ROW + GAP) + 50;
        int height = overTime.isEmpty() ? timeTop - 20 : timeTop + TIME_HEIGHT + 40;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, height));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, height));
        s.append(text(10, 20, "Mean real seconds lost per failure, by cause (upper bar: Steadyrun; lower bar: baseline)",
                "bold"));
        for (int k = 0; k < PARTS.length; k++) {
            int x = 10 + k * 120;
            s.append(rect(x, 32, 12, 12, COLOURS[k])).append(text(x + 16, 43, PARTS[k], null));
        }
        s.append(rect(10 + PARTS.length * 120, 32, 12, 12, BASELINE))
                .append(text(26 + PARTS.length * 120, 43, "baseline (all parts)", null));
        int y = lossTop;
        for (GoodputReport.CauseRow c : causes) {
            double[] parts = parts(c);
            s.append(text(10, y + ROW - 4, c.cause() + " (" + c.failures() + ")", null));
            double x = LABEL;
            for (int k = 0; k < parts.length; k++) {
                double w = plot * parts[k] / max;
                s.append(rect(x, y, w, ROW, COLOURS[k]));
                x += w;
            }
            s.append(text(x + 4, y + ROW - 4, seconds(sum(parts)), null));
            double b = plot * c.meanBaselineTotal() / max;
            s.append(rect(LABEL, y + ROW, b, ROW, BASELINE))
                    .append(text(LABEL + b + 4, y + 2 * ROW - 4, seconds(c.meanBaselineTotal()), null));
            y += 2 * ROW + GAP;
        }
        s.append(text(10, goodTop - 20, "Projected goodput (upper bar: Steadyrun; lower bar: baseline)", "bold"));
        y = goodTop;
        for (GoodputReport.Projection p : r.projections()) {
            s.append(text(10, y + ROW - 4, p.label(), null));
            s.append(rect(LABEL, y, plot * p.goodput(), ROW, COLOURS[0]))
                    .append(text(LABEL + plot * p.goodput() + 4, y + ROW - 4, percent(p.goodput()), null));
            s.append(rect(LABEL, y + ROW, plot * p.baselineGoodput(), ROW, BASELINE))
                    .append(text(LABEL + plot * p.baselineGoodput() + 4, y + 2 * ROW - 4,
                            percent(p.baselineGoodput()), null));
            y += 2 * ROW + GAP;
        }
        if (!overTime.isEmpty()) {
            s.append(text(10, timeTop - 20, "Goodput per minute of the soak, step clock (red: failures injected"
                    + " in that minute)", "bold"));
            double w = (double) (WIDTH - LABEL - RIGHT) / overTime.size();
            s.append(text(10, timeTop + 12, "100 %", null)).append(text(10, timeTop + TIME_HEIGHT, "0 %", null));
            for (int i = 0; i < overTime.size(); i++) {
                GoodputReport.Minute m = overTime.get(i);
                double h = TIME_HEIGHT * m.goodput();
                s.append(rect(LABEL + i * w, timeTop + TIME_HEIGHT - h, Math.max(1, w - 1), h, COLOURS[0]));
                if (m.failures() > 0) {
                    s.append(text(LABEL + i * w, timeTop - 4, Integer.toString(m.failures()), null)
                            .replace("<text ", "<text fill=\"" + FAILURE + "\" "));
                }
            }
            s.append(text(LABEL, timeTop + TIME_HEIGHT + 16, "minute 0", null)).append(text(WIDTH - RIGHT - 60,
                    timeTop + TIME_HEIGHT + 16, "minute " + Math.round(overTime.get(overTime.size() - 1).toSeconds()
                            / 60), null));
        }
        return s.append("</svg>\n").toString();
    }

    private static double sum(double[] values) {
        double t = 0;
        for (double v : values) {
            t += v;
        }
        return t;
    }

    private static String rect(double x, double y, double w, double h, String fill) {
        return String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>%n",
                x, y, Math.max(0, w), h, fill);
    }

    private static String text(double x, double y, String content, String weight) {
        return String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\"%s>%s</text>%n", x, y,
                weight == null ? "" : " font-weight=\"" + weight + "\"", content.replace("&", "&amp;")
                        .replace("<", "&lt;"));
    }

    private static String seconds(double s) {
        return String.format(Locale.ROOT, "%.0f s", s);
    }

    private static String percent(double g) {
        return String.format(Locale.ROOT, "%.2f %%", 100 * g);
    }
}
