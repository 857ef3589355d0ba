package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.steadyrun.soak.TraceModel.Cause;

class TraceModelTest {

    @Test
    void aSeedGivesTheSameTraceAndAnotherSeedAnother() {
        TraceModel model = new TraceModel(0.04);
        assertThat(model.eventsFor(7, 3600, 20)).isEqualTo(model.eventsFor(7, 3600, 20));
        assertThat(model.eventsFor(7, 3600, 20)).isNotEqualTo(model.eventsFor(8, 3600, 20));
    }

    @Test
    void failuresComeAtTheMeanGapAndFollowTheSoakMix() {
        TraceModel model = new TraceModel(0.04);
        List<TraceModel.Event> events = model.eventsFor(1, 200_000, 20);
        assertThat(events.size()).isCloseTo(10_000, within(400)); // Poisson: sd 100
        Map<Cause, Integer> counts = new EnumMap<>(Cause.class);
        events.forEach(e -> counts.merge(e.cause(), 1, Integer::sum));
        model.soakMix().forEach((cause, p) ->
                assertThat(counts.getOrDefault(cause, 0) / (double) events.size()).as(cause.name()).isCloseTo(p, within(0.015)));
        assertThat(events).isSortedAccordingTo((a, b) -> Double.compare(a.atSeconds(), b.atSeconds()));
        assertThat(events.get(events.size() - 1).atSeconds()).isLessThan(200_000);
    }

    @Test
    void theSoakMixRaisesRareCausesToTheFloorAndTheAnchorMixIsLlama3s() {
        Map<Cause, Double> anchor = Cause.anchorMix();
        assertThat(anchor.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1, within(1e-9));
        assertThat(anchor.get(Cause.FATAL_XID)).isCloseTo(57.3 / 100.0, within(0.01));
        Map<Cause, Double> soak = new TraceModel(0.04).soakMix();
        assertThat(soak.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1, within(1e-9));
        assertThat(soak.get(Cause.RACK_LOSS)).isGreaterThan(0.03);
        assertThat(soak.get(Cause.FATAL_XID)).isLessThan(anchor.get(Cause.FATAL_XID));
    }

    @Test
    void rateCompressionIsTheRealMttfOverTheSoaksGap() {
        // 7.9 h at 1,024 GPUs = 28,440 s between failures; one every 20 s is 1,422 times as often
        assertThat(TraceModel.rateCompression(1024, 20)).isCloseTo(1422, within(1.0));
    }
}
