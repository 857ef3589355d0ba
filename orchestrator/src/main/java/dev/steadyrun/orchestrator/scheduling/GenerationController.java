package dev.steadyrun.orchestrator.scheduling;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.run.RunService;

/** {@code GET /api/v1/runs/{id}/generations}: the placements of a run, oldest generation first. */
@RestController
class GenerationController {

    private final RunService runs;
    private final Placements placements;
    private final NodeRegistry nodes;

    GenerationController(RunService runs, Placements placements, NodeRegistry nodes) {
        this.runs = runs;
        this.placements = placements;
        this.nodes = nodes;
    }

    @GetMapping("/api/v1/runs/{id}/generations")
    List<GenerationResponse> generations(@PathVariable UUID id) {
        runs.get(id); // 404 for an unknown run
        Map<Long, List<Placements.Row>> byGeneration = new LinkedHashMap<>();
        placements.history(id).forEach(r -> byGeneration.computeIfAbsent(r.generation(), g -> new ArrayList<>()).add(r));
        return byGeneration.entrySet().stream().map(e -> {
            List<GenerationResponse.Seat> ranks = new ArrayList<>();
            List<GenerationResponse.Seat> spares = new ArrayList<>();
            for (Placements.Row r : e.getValue()) {
                GenerationResponse.Seat seat = new GenerationResponse.Seat(r.rank(), r.nodeId(),
                        nodes.view(r.nodeId()).name(), r.releasedAt(), r.rank() == null ? 0 : r.ranks());
                (r.rank() == null ? spares : ranks).add(seat);
            }
            return new GenerationResponse(e.getKey(), e.getValue().get(0).placedAt(), ranks, spares);
        }).toList();
    }
}
