package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.soak.GoodputReport.Episode;
import dev.steadyrun.soak.GoodputReport.Params;
import dev.steadyrun.soak.TraceModel.Cause;

class GoodputReportTest {

    private final Params params = new Params(15, 15, 1800, 1200);

    @Test
    void wallClockPhasesStayAndStepClockPhasesAreUncompressed() {
        GoodputReport.RealLoss xid = GoodputReport.real(new Episode(Cause.FATAL_XID, 1, 2, 3, 4, 5, 10, 0, 1), params);
        assertThat(xid).isEqualTo(new GoodputReport.RealLoss(2, 3, 4, 75, 150));
        GoodputReport.RealLoss hang = GoodputReport.real(new Episode(Cause.HANG, 1, 40, 1, 1, 1, 0, 0, 1), params);
        assertThat(hang.detect()).isEqualTo(600);
        // the soak's operator waited 30 s: priced at the real human wait
        GoodputReport.RealLoss human = GoodputReport.real(new Episode(Cause.DIVERGENCE, 1, 1, 1, 40, 1, 0, 30, 1), params);
        assertThat(human.restart()).isEqualTo(10 + 1800);
    }

    @Test
    void theBaselineWaitsForAHumanOnDivergencesAndForANodeInsteadOfASpare() {
        Episode div = new Episode(Cause.DIVERGENCE, 1, 1, 1, 1, 1, 100, 0, 1);
        assertThat(GoodputReport.baseline(div, params).total() - GoodputReport.real(div, params).total())
                .isCloseTo(1800, within(1e-9));
        Episode crash = new Episode(Cause.TRAINER_CRASH, 1, 1, 1, 1, 1, 100, 0, 1);
        assertThat(GoodputReport.baseline(crash, params)).isEqualTo(GoodputReport.real(crash, params));
        Episode lost = new Episode(Cause.NODE_LOSS, 1, 1, 1, 1, 1, 100, 0, 1);
        assertThat(GoodputReport.baseline(lost, params).restart()).isEqualTo(1 + 1200);
    }

    @Test
    void goodputIsTheRunningTimeKeptOverTheCycle() {
        // MTTF 1.8 h = 6,480 s; 130 s of loss split 100 downtime / 30 lost work
        assertThat(GoodputReport.goodput(6480, 100, 30)).isCloseTo((6480 - 30) / 6580.0, within(1e-12));
        assertThat(GoodputReport.goodput(100, 0, 500)).isZero();
    }

    @Test
    void causesAreSummarisedAndProjectionsWeighTheAnchorMix() {
        List<Episode> episodes = List.of(
                new Episode(Cause.FATAL_XID, 1, 3, 1, 5, 2, 20, 0, 1),
                new Episode(Cause.FATAL_XID, 1, 5, 1, 5, 2, 40, 0, 2),
                new Episode(Cause.TRAINER_CRASH, 1, 1, 1, 5, 2, 10, 0, 3));
        GoodputReport.Result r = GoodputReport.build(episodes, params);
        assertThat(r.causes()).hasSize(2);
        GoodputReport.CauseRow xid = r.causes().get(0);
        assertThat(xid.cause()).isEqualTo(Cause.FATAL_XID);
        assertThat(xid.failures()).isEqualTo(2);
        assertThat(xid.detect().median()).isEqualTo(3);
        assertThat(xid.detect().p95()).isEqualTo(5);
        assertThat(xid.lostWork().mean()).isEqualTo(450);
        assertThat(r.projections()).hasSize(2);
        assertThat(r.projections().get(1).mttfHours()).isEqualTo(1.8);
        // every cause's loss lies between the two measured causes', so the projection does too
        double best = GoodputReport.goodput(6480, 37, 150);
        double worst = GoodputReport.goodput(6480, 40, 450);
        assertThat(r.projections().get(1).goodput()).isBetween(worst, best);
        assertThat(r.projections().get(1).baselineGoodput()).isLessThan(r.projections().get(1).goodput());
        assertThat(GoodputReport.markdown(r, params)).contains("FATAL_XID").contains("MTTF 1.8 h");
    }

    /**
     * Goodput over time: from the trace's start on, each interval's steps × step time ÷ its length, capped at 1, and
     * the failures injected in it; samples before the start are left out.
     */
    @Test
    void goodputOverTimeIsEachIntervalsStepsTimesTheStepTime() {
        List<Fleet.Progress> samples = List.of(new Fleet.Progress(0, 0, 0), new Fleet.Progress(30, 10, 0),
                new Fleet.Progress(90, 40, 2), new Fleet.Progress(150, 40, 5), new Fleet.Progress(210, 100, 5));
        List<GoodputReport.Minute> m = GoodputReport.overTime(samples, 30, 2.0);
        assertThat(m).containsExactly(new GoodputReport.Minute(0, 60, 1.0, 2),
                new GoodputReport.Minute(60, 120, 0.0, 3), new GoodputReport.Minute(120, 180, 1.0, 0));
        assertThat(GoodputReport.overTime(samples, 30, 1.0).get(0).goodput()).isEqualTo(0.5);
    }
}
