package dev.steadyrun.orchestrator.run;

import java.time.Instant;

/** One transition of a run's history. */
public record RunEventResponse(Instant at, RunState from, RunState to, long generation, String reason, String actor) {

    static RunEventResponse of(RunEvent e) {
        return new RunEventResponse(e.getAt(), e.getFromState(), e.getToState(), e.getGeneration(), e.getReason(),
                e.getActor());
    }
}
