package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

/** The ring order of ranks on nodes: each node's ranks are neighbours, so only one ring link per node crosses nodes. */
class LocalRankTest {

    @Test
    void eachNodesRanksAreAdjacentInTheRing() {
        int nodes = 3;
        int perNode = 2;
        List<LocalRank> all = new ArrayList<>();
        Map<Integer, Integer> nodeOf = new HashMap<>(); // global rank -> the node that runs it
        for (int n = 0; n < nodes; n++) {
            for (LocalRank l : LocalRank.of(n * perNode, perNode, List.of(0, 1))) {
                all.add(l);
                nodeOf.put(l.globalRank(), n);
            }
        }
        int world = nodes * perNode;
        assertThat(all).extracting(LocalRank::globalRank).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(all).extracting(LocalRank::cudaVisibleDevices).containsExactly("0", "1", "0", "1", "0", "1");
        int crossing = 0;
        for (int r = 0; r < world; r++) { // the ring links r -> r + 1 (mod world)
            int next = (r + 1) % world;
            if (!nodeOf.get(r).equals(nodeOf.get(next))) {
                crossing++;
            }
        }
        assertThat(crossing).as("links between nodes: one out of each node, the minimum for a ring").isEqualTo(nodes);
        assertThat(LocalRank.of(4, 2, null)).extracting(LocalRank::cudaVisibleDevices).containsOnlyNulls();
    }

    @Test
    void aNodesAssignmentSplitsIntoOneAssignmentPerLocalRank() {
        Assignment node = new Assignment(UUID.randomUUID(), 2, 4, 3, Map.of(), null, null, "c", RestartKnobs.NONE,
                "host-a:29500", 60, null, null, LocalRank.of(2, 2, List.of(0, 1)));
        assertThat(node.ranksHere()).hasSize(2);
        Assignment second = node.forLocalRank(node.ranksHere().get(1));
        assertThat(second.rank()).isEqualTo(3);
        assertThat(second.worldSize()).isEqualTo(4);
        assertThat(second.rendezvous()).isEqualTo("host-a:29500");
        assertThat(second.ranksHere()).containsExactly(new LocalRank(1, 3, "1"));
        Assignment old = new Assignment(node.runId(), 1, 2, 3, Map.of(), null, null, "c", RestartKnobs.NONE, null, 60,
                null);
        assertThat(old.ranksHere()).as("an assignment without local ranks is its one rank")
                .containsExactly(new LocalRank(0, 1, null));
    }
}
