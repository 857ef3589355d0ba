package dev.steadyrun.orchestrator.logs;

import java.util.UUID;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.web.BadRequestException;

/**
 * A run's live trainer logs: the recent window of one rank's generation as JSON, or with {@code follow=true} as
 * server-sent events (see {@link LogFollowers}). Reading needs VIEWER, like every GET; a follower sends the same
 * {@code Authorization} header (a browser's EventSource cannot, so the dashboard streams with fetch()).
 */
@RestController
class LogController {

    static final int MAX_LIMIT = 1000;

    private final RunRepository runs;
    private final LogWindows windows;
    private final LogFollowers followers;

    LogController(RunRepository runs, LogWindows windows, LogFollowers followers) {
        this.runs = runs;
        this.windows = windows;
        this.followers = followers;
    }

    @GetMapping("/api/v1/runs/{id}/logs")
    @Operation(summary = "A rank's recent trainer log; follow=true streams it as server-sent events")
    @ApiResponse(responseCode = "200", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = LogPage.class)),
            @Content(mediaType = "text/event-stream", schema = @Schema(type = "string",
                    description = "events: line (a LogLine, id = seq), missed ({lines}), end ({reason})"))})
    Object logs(@PathVariable UUID id, @RequestParam(required = false) Integer rank,
                @RequestParam(required = false) Long generation,
                @RequestParam(defaultValue = "false") boolean follow,
                @RequestParam(required = false) Long after,
                @RequestParam(required = false) Integer limit) {
        Run run = runs.findById(id).orElseThrow(() -> RunService.notFound(id));
        int r = rank == null ? 0 : rank;
        if (r < 0 || r >= run.getWorldSize()) {
            throw new BadRequestException("rank", "must be from 0 to " + (run.getWorldSize() - 1)
                    + " (the run's world size is " + run.getWorldSize() + "), was " + r);
        }
        // a run not placed yet (generation 0): its first generation, so a follower can wait for the first line
        long g = generation == null ? Math.max(1, run.getGeneration()) : generation;
        if (g < 1 || g > Math.max(1, run.getGeneration())) {
            throw new BadRequestException("generation", "must be from 1 to " + Math.max(1, run.getGeneration())
                    + " (the run's current generation), was " + g);
        }
        if (after != null && after < 0) {
            throw new BadRequestException("after", "must be 0 or more (a line's seq), was " + after);
        }
        if (limit != null && (limit < 1 || limit > MAX_LIMIT)) {
            throw new BadRequestException("limit", "must be from 1 to " + MAX_LIMIT + ", was " + limit);
        }
        if (follow && limit != null) {
            throw new BadRequestException("limit", "only without follow=true");
        }
        LogWindows.Key key = new LogWindows.Key(id, r, g);
        long from = after == null ? -1 : after;
        if (follow) {
            return followers.follow(key, from);
        }
        LogWindows.Read read = windows.read(key, from, limit == null ? MAX_LIMIT : limit);
        Long next = read.lines().isEmpty() ? after : read.lines().get(read.lines().size() - 1).seq();
        return new LogPage(id, r, g, read.droppedLines(), read.missedLines(), read.lines(), next);
    }
}
