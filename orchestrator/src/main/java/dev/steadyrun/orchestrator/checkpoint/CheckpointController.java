package dev.steadyrun.orchestrator.checkpoint;

import java.util.List;
import java.util.UUID;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.run.RunService;

/** {@code GET /api/v1/runs/{id}/checkpoints}: what the run reported, newest first (VIEWER). */
@RestController
class CheckpointController {

    private final Checkpoints checkpoints;
    private final RunService runs;

    CheckpointController(Checkpoints checkpoints, RunService runs) {
        this.checkpoints = checkpoints;
        this.runs = runs;
    }

    @GetMapping("/api/v1/runs/{id}/checkpoints")
    List<CheckpointResponse> checkpoints(@PathVariable UUID id) {
        runs.get(id); // 404 for an unknown run
        return checkpoints.list(id);
    }
}
