package dev.steadyrun.orchestrator.run;

import java.util.List;
import java.util.UUID;

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

/** Runs: submit, list, inspect, pause, resume, cancel. Reading needs VIEWER, changing OPERATOR. */
@RestController
@RequestMapping("/api/v1/runs")
class RunController {

    private final RunService runs;

    RunController(RunService runs) {
        this.runs = runs;
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    @RequiresRole(Role.OPERATOR)
    RunResponse submit(@RequestBody RunSpecRequest spec, Caller caller) {
        return runs.submit(spec, caller.actor());
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
}
