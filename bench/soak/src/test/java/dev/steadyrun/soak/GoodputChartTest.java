package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import dev.steadyrun.soak.GoodputReport.Episode;
import dev.steadyrun.soak.GoodputReport.Params;
import dev.steadyrun.soak.TraceModel.Cause;

class GoodputChartTest {

    @Test
    void barsAreTheReportsMeansToScaleAndTheProjectionsItsGoodput() throws Exception {
        GoodputReport.Result r = GoodputReport.build(List.of(
                new Episode(Cause.FATAL_XID, 1, 3, 1, 5, 2, 20, 0, 1),
                new Episode(Cause.DIVERGENCE, 1, 2, 1, 5, 2, 10, 30, 2)), new Params(15, 15, 1800, 1200));
        Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(GoodputChart.svg(r).getBytes(StandardCharsets.UTF_8)));

        List<Double> widths = new ArrayList<>();
        NodeList rects = svg.getElementsByTagName("rect");
        for (int i = 0; i < rects.getLength(); i++) {
            widths.add(Double.parseDouble(((Element) rects.item(i)).getAttribute("width")));
        }
        // background, six legend squares, per cause five stacked parts and one baseline bar, two bars per projection
        assertThat(widths).hasSize(1 + 6 + r.causes().size() * 6 + r.projections().size() * 2);
        int first = 7;
        for (GoodputReport.CauseRow c : r.causes()) {
            double[] parts = GoodputChart.parts(c);
            double baseline = widths.get(first + 5);
            for (int k = 0; k < 5; k++) {
                assertThat(widths.get(first + k) / baseline).as(c.cause() + " " + GoodputChart.PARTS[k])
                        .isCloseTo(parts[k] / c.meanBaselineTotal(), within(1e-3));
            }
            first += 6;
        }
        GoodputReport.Projection p = r.projections().get(1);
        assertThat(widths.get(first + 2) / widths.get(first + 3))
                .isCloseTo(p.goodput() / p.baselineGoodput(), within(1e-3));
        assertThat(svg.getDocumentElement().getTextContent())
                .contains("FATAL_XID (1)", "DIVERGENCE (1)", "MTTF 1.8 h",
                        String.format(java.util.Locale.ROOT, "%.2f %%", 100 * p.goodput()));
    }

    /** The per-minute section: one bar per interval, its height the interval's goodput, failures written above. */
    @Test
    void goodputOverTimeBarsAreEachMinutesGoodput() throws Exception {
        GoodputReport.Result r = GoodputReport.build(List.of(new Episode(Cause.FATAL_XID, 1, 3, 1, 5, 2, 20, 0, 1)),
                new Params(15, 15, 1800, 1200));
        List<GoodputReport.Minute> minutes = List.of(new GoodputReport.Minute(0, 60, 1.0, 0),
                new GoodputReport.Minute(60, 120, 0.25, 3));
        Document plain = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(GoodputChart.svg(r).getBytes(StandardCharsets.UTF_8)));
        Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(GoodputChart.svg(r, minutes).getBytes(StandardCharsets.UTF_8)));
        NodeList rects = svg.getElementsByTagName("rect");
        int before = plain.getElementsByTagName("rect").getLength();
        assertThat(rects.getLength()).isEqualTo(before + 2);
        double full = Double.parseDouble(((Element) rects.item(before)).getAttribute("height"));
        double quarter = Double.parseDouble(((Element) rects.item(before + 1)).getAttribute("height"));
        assertThat(quarter / full).isCloseTo(0.25, within(1e-3));
        assertThat(svg.getDocumentElement().getTextContent()).contains("Goodput per minute", "3", "minute 2");
    }
}
