package dev.steadyrun.orchestrator.scheduling;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

/**
 * Chooses the nodes of one gang: all ranks and spares at once, or nothing. Packs by labels because data-parallel
 * all-reduce is fastest inside a rack: the smallest rack that fits the whole gang wins, else the smallest zone,
 * else the nodes in (zone, rack, name) order so that neighbouring ranks share racks where they can. Pure.
 */
final class GangPlacer {

    static final String ZONE = "zone";
    static final String RACK = "rack";

    /** A node that may be placed: healthy and working for nobody; {@code gpus} it registered with. */
    record Candidate(UUID id, String name, Map<String, String> labels, int gpus) {

        Candidate(UUID id, String name, Map<String, String> labels) {
            this(id, name, labels, 0);
        }

        String zone() {
            return labels.getOrDefault(ZONE, "");
        }

        String rack() {
            return zone() + "/" + labels.getOrDefault(RACK, "");
        }
    }

    /** @param ranks node seat i (ranks {@code i * ranksPerNode} on) is {@code ranks.get(i)} */
    record Gang(List<Candidate> ranks, List<Candidate> spares) {
    }

    private GangPlacer() {
    }

    /** @param worldSize the nodes that hold ranks (whole nodes: ranks over ranks per node); spares are nodes too */
    static Optional<Gang> place(List<Candidate> candidates, int worldSize, int spares) {
        if (worldSize < 1 || spares < 0 || (long) worldSize + spares > candidates.size()) { // exact: no overflow
            return Optional.empty();
        }
        int need = worldSize + spares;
        List<Candidate> sorted = new ArrayList<>(candidates);
        sorted.sort(Comparator.comparing(Candidate::zone).thenComparing(Candidate::rack).thenComparing(Candidate::name));
        List<Candidate> chosen = smallestFittingGroup(sorted, Candidate::rack, need)
                .or(() -> smallestFittingGroup(sorted, Candidate::zone, need))
                .orElse(sorted)
                .subList(0, need);
        return Optional.of(new Gang(List.copyOf(chosen.subList(0, worldSize)),
                List.copyOf(chosen.subList(worldSize, need))));
    }

    private static Optional<List<Candidate>> smallestFittingGroup(List<Candidate> sorted,
                                                                 Function<Candidate, String> key, int need) {
        Map<String, List<Candidate>> groups = new LinkedHashMap<>();
        for (Candidate c : sorted) {
            groups.computeIfAbsent(key.apply(c), k -> new ArrayList<>()).add(c);
        }
        return groups.values().stream().filter(g -> g.size() >= need).min(Comparator.comparingInt(List::size));
    }
}
