package dev.steadyrun.orchestrator.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.scheduling.GangPlacer.Candidate;
import dev.steadyrun.orchestrator.scheduling.GangPlacer.Gang;

class GangPlacerTest {

    private static Candidate node(String name, String zone, String rack) {
        Map<String, String> labels = zone == null ? Map.of() : Map.of("zone", zone, "rack", rack);
        return new Candidate(UUID.nameUUIDFromBytes(name.getBytes()), name, labels);
    }

    private static List<String> names(List<Candidate> nodes) {
        return nodes.stream().map(Candidate::name).toList();
    }

    @Test
    void allOrNothing() {
        List<Candidate> three = List.of(node("a", null, null), node("b", null, null), node("c", null, null));
        assertThat(GangPlacer.place(three, 3, 1)).isEmpty();
        assertThat(GangPlacer.place(three, 4, 0)).isEmpty();
        Gang gang = GangPlacer.place(three, 2, 1).orElseThrow();
        assertThat(names(gang.ranks())).containsExactly("a", "b");
        assertThat(names(gang.spares())).containsExactly("c");
    }

    /** worldSize + spares past Integer.MAX_VALUE once wrapped to a negative need and threw in every pass. */
    @Test
    void aGangLargerThanAnIntFitsNowhereInsteadOfThrowing() {
        List<Candidate> three = List.of(node("a", null, null), node("b", null, null), node("c", null, null));
        assertThat(GangPlacer.place(three, 1, Integer.MAX_VALUE)).isEmpty();
        assertThat(GangPlacer.place(three, Integer.MAX_VALUE, Integer.MAX_VALUE)).isEmpty();
    }

    @Test
    void prefersTheSmallestRackThatHoldsTheWholeGang() {
        List<Candidate> nodes = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            nodes.add(node("big" + i, "z1", "r-big"));
        }
        for (int i = 0; i < 3; i++) {
            nodes.add(node("small" + i, "z2", "r-small"));
        }
        nodes.add(node("lone", "z1", "r-lone"));
        Gang gang = GangPlacer.place(nodes, 2, 1).orElseThrow();
        assertThat(names(gang.ranks())).containsExactly("small0", "small1");
        assertThat(names(gang.spares())).containsExactly("small2");

        assertThat(names(GangPlacer.place(nodes, 4, 0).orElseThrow().ranks()))
                .allMatch(n -> n.startsWith("big"));
    }

    @Test
    void fallsBackToAZoneThenToNeighboursInLabelOrder() {
        List<Candidate> nodes = List.of(node("a1", "z1", "r1"), node("a2", "z1", "r2"), node("b1", "z2", "r3"),
                node("b2", "z2", "r3"), node("b3", "z2", "r4"));
        // no rack holds 3, zone z2 does
        assertThat(names(GangPlacer.place(nodes, 3, 0).orElseThrow().ranks())).containsExactly("b1", "b2", "b3");
        // nothing but the whole fleet holds 4: racks stay together
        assertThat(names(GangPlacer.place(nodes, 4, 0).orElseThrow().ranks())).containsExactly("a1", "a2", "b1", "b2");
    }
}
