package dev.steadyrun.orchestrator.run;

import java.util.List;

/** One page of runs, newest first. */
public record RunPage(List<RunResponse> items, int page, int size, long total) {
}
