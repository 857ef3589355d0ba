package dev.steadyrun.orchestrator.run;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;
import dev.steadyrun.orchestrator.web.BadRequestException;

/** Runs: submit (JSON or YAML), list, inspect, pause, resume, cancel. Reading needs VIEWER, changing OPERATOR. */
@RestController
@RequestMapping("/api/v1/runs")
class RunController {

    private final RunService runs;
    private final RunSpecYaml yaml;

    RunController(RunService runs, RunSpecYaml yaml) {
        this.runs = runs;
        this.yaml = yaml;
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    @RequiresRole(Role.OPERATOR)
    RunResponse submit(@RequestBody RunSpecRequest spec, Caller caller) {
        return runs.submit(spec, caller.actor());
    }

    /** The same spec in YAML; its errors carry the line and column of the field. */
    @PostMapping(consumes = {"application/yaml", "application/x-yaml", "text/yaml"})
    @ResponseStatus(HttpStatus.CREATED)
    @RequiresRole(Role.OPERATOR)
    @io.swagger.v3.oas.annotations.parameters.RequestBody(content = { // both methods' bodies in one description
            @Content(mediaType = "application/json", schema = @Schema(implementation = RunSpecRequest.class)),
            @Content(mediaType = "application/yaml", schema = @Schema(implementation = RunSpecRequest.class)),
            @Content(mediaType = "application/x-yaml", schema = @Schema(implementation = RunSpecRequest.class)),
            @Content(mediaType = "text/yaml", schema = @Schema(implementation = RunSpecRequest.class))})
    RunResponse submitYaml(@RequestBody byte[] spec, Caller caller) {
        // bytes, not a String: Spring would decode a text/yaml body without a charset as ISO-8859-1
        RunSpecYaml.Document document = yaml.read(new String(spec, StandardCharsets.UTF_8));
        try {
            return runs.submit(document.request(), caller.actor());
        } catch (BadRequestException refused) {
            throw document.locate(refused);
        }
    }

    @GetMapping
    RunPage list(@RequestParam(defaultValue = "0") int page, @RequestParam(defaultValue = "50") int size,
                 @RequestParam(required = false) RunState state) {
        return runs.list(page, size, state);
    }

    @GetMapping("/{id}")
    RunResponse get(@PathVariable UUID id) {
        return runs.get(id);
    }

    @PostMapping("/{id}/pause")
    @RequiresRole(Role.OPERATOR)
    RunResponse pause(@PathVariable UUID id, Caller caller) {
        return runs.act(id, RunAction.PAUSE, caller.actor());
    }

    @PostMapping("/{id}/resume")
    @RequiresRole(Role.OPERATOR)
    RunResponse resume(@PathVariable UUID id, Caller caller) {
        return runs.act(id, RunAction.RESUME, caller.actor());
    }

    @PostMapping("/{id}/cancel")
    @RequiresRole(Role.OPERATOR)
    RunResponse cancel(@PathVariable UUID id, Caller caller) {
        return runs.act(id, RunAction.CANCEL, caller.actor());
    }

    @GetMapping("/{id}/events")
    List<RunEventResponse> events(@PathVariable UUID id) {
        return runs.events(id);
    }

    @GetMapping("/{id}/metrics")
    MetricsResponse metrics(@PathVariable UUID id, @RequestParam(required = false) Long fromStep,
                            @RequestParam(required = false) Long toStep,
                            @RequestParam(required = false) Integer maxPoints) {
        return runs.metrics(id, fromStep, toStep, maxPoints);
    }

    @GetMapping("/{id}/goodput")
    GoodputResponse goodput(@PathVariable UUID id) {
        return runs.goodput(id);
    }
}
