package dev.steadyrun.orchestrator.run;

import java.time.Instant;
import java.util.UUID;

import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** One stored transition of a run, with why and who. */
@Entity
@Table(name = "run_event")
public class RunEvent {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;
    private UUID runId;
    private Instant at;
    @Enumerated(EnumType.STRING)
    private RunState fromState;
    @Enumerated(EnumType.STRING)
    private RunState toState;
    private long generation;
    private String reason;
    private String actor;

    protected RunEvent() {
    }

    RunEvent(UUID runId, Instant at, RunState fromState, RunState toState, long generation, String reason,
             String actor) {
        this.runId = runId;
        this.at = at;
        this.fromState = fromState;
        this.toState = toState;
        this.generation = generation;
        this.reason = reason;
        this.actor = actor;
    }

    public Long getId() {
        return id;
    }

    public UUID getRunId() {
        return runId;
    }

    public Instant getAt() {
        return at;
    }

    public RunState getFromState() {
        return fromState;
    }

    public RunState getToState() {
        return toState;
    }

    public long getGeneration() {
        return generation;
    }

    public String getReason() {
        return reason;
    }

    public String getActor() {
        return actor;
    }
}
