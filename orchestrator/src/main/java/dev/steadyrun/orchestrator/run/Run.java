package dev.steadyrun.orchestrator.run;

import java.time.Instant;
import java.util.UUID;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A training run. Never serialized: the API answers with {@link RunResponse}. */
@Entity
@Table(name = "run")
public class Run {

    @Id
    private UUID id;
    private String name;
    @Enumerated(EnumType.STRING)
    private RunState state;
    private String stateReason;
    private Instant stateChangedAt;
    /** The resolved {@link RunSpec} as JSON. */
    private String spec;
    private int worldSize;
    private int spares;
    private long generation;
    private Long lastStep;
    private Double lastLoss;
    private long tokensSeen;
    private Instant createdAt;
    private String createdBy;

    protected Run() {
    }

    Run(UUID id, String name, String spec, int worldSize, int spares, Instant now, String createdBy) {
        this.id = id;
        this.name = name;
        this.spec = spec;
        this.worldSize = worldSize;
        this.spares = spares;
        this.state = RunState.PENDING;
        this.stateReason = "submitted";
        this.stateChangedAt = now;
        this.createdAt = now;
        this.createdBy = createdBy;
    }

    /** Only {@link RunStateMachine} calls this, after the guard. */
    void moveTo(RunState target, String reason, Instant now) {
        this.state = target;
        this.stateReason = reason;
        this.stateChangedAt = now;
    }

    /** A new placement: the previous generation's trainers and reports are fenced off from now on. */
    public long nextGeneration() {
        return ++generation;
    }

    /** A restart from a checkpoint: the run's progress goes back to the restored step (null and 0: from scratch). */
    public void rewindTo(Long step, long tokens) {
        this.lastStep = step;
        this.tokensSeen = tokens;
    }

    public UUID getId() {
        return id;
    }

    public String getName() {
        return name;
    }

    public RunState getState() {
        return state;
    }

    public String getStateReason() {
        return stateReason;
    }

    public Instant getStateChangedAt() {
        return stateChangedAt;
    }

    public String getSpec() {
        return spec;
    }

    public int getWorldSize() {
        return worldSize;
    }

    public int getSpares() {
        return spares;
    }

    public long getGeneration() {
        return generation;
    }

    public Long getLastStep() {
        return lastStep;
    }

    public Double getLastLoss() {
        return lastLoss;
    }

    public long getTokensSeen() {
        return tokensSeen;
    }

    public Instant getCreatedAt() {
        return createdAt;
    }

    public String getCreatedBy() {
        return createdBy;
    }
}
