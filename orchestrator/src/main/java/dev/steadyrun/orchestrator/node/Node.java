package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.MapKeyColumn;
import jakarta.persistence.Table;

import org.hibernate.annotations.DynamicUpdate;
import org.hibernate.annotations.SQLRestriction;

/**
 * A node row. Lease columns ({@code last_seen_at}, {@code gpu_health}, ...) are written in batches by
 * {@link LeaseTable#flush}, state columns by {@link NodeRepository#transition}; {@code @DynamicUpdate} keeps a
 * re-registration from overwriting either with stale values. A deleted node kept for its run history
 * ({@code deleted_at} set, see {@link NodeRepository#retire}) is invisible here.
 */
@Entity
@Table(name = "node")
@DynamicUpdate
@SQLRestriction("deleted_at is null")
class Node {

    @Id
    private UUID id;
    private String name;
    private String hostname;
    private String agentVersion;
    @Enumerated(EnumType.STRING)
    private NodeState state;
    private String stateReason;
    private Instant stateChangedAt;
    private byte[] credentialHash;
    private Instant registeredAt;
    private Instant lastSeenAt;
    private long lastSequence;
    /** JSON of the GpuInfo list given at registration. */
    private String gpus;
    /** JSON of the latest GpuHealth list. */
    private String gpuHealth;
    /** JSON of the latest TrainerStatus. */
    private String trainerStatus;

    @ElementCollection(fetch = FetchType.EAGER)
    @CollectionTable(name = "node_label", joinColumns = @JoinColumn(name = "node_id"))
    @MapKeyColumn(name = "key")
    @Column(name = "value")
    private Map<String, String> labels = new HashMap<>();

    /** The programs its agent advertised at registration ({@code name@version}), the built-in one aside. */
    @ElementCollection
    @CollectionTable(name = "node_program", joinColumns = @JoinColumn(name = "node_id"))
    @Column(name = "program")
    private Set<String> programs = new HashSet<>();

    protected Node() {
    }

    Node(UUID id, String name, Instant now) {
        this.id = id;
        this.name = name;
        this.state = NodeState.REGISTERED;
        this.stateReason = "registered";
        this.stateChangedAt = now;
        this.registeredAt = now;
        this.lastSequence = -1;
    }

    void describe(String hostname, String agentVersion, String gpusJson, Map<String, String> labels,
                  Collection<String> programs) {
        this.hostname = hostname;
        this.agentVersion = agentVersion;
        this.gpus = gpusJson;
        this.labels.clear();
        this.labels.putAll(labels);
        this.programs.clear();
        this.programs.addAll(programs);
    }

    void rekey(byte[] credentialHash) {
        this.credentialHash = credentialHash;
    }

    byte[] getCredentialHash() {
        return credentialHash;
    }

    UUID getId() {
        return id;
    }

    String getName() {
        return name;
    }

    String getHostname() {
        return hostname;
    }

    String getAgentVersion() {
        return agentVersion;
    }

    NodeState getState() {
        return state;
    }

    String getStateReason() {
        return stateReason;
    }

    Instant getStateChangedAt() {
        return stateChangedAt;
    }

    Instant getRegisteredAt() {
        return registeredAt;
    }

    Instant getLastSeenAt() {
        return lastSeenAt;
    }

    long getLastSequence() {
        return lastSequence;
    }

    String getGpus() {
        return gpus;
    }

    String getGpuHealth() {
        return gpuHealth;
    }

    String getTrainerStatus() {
        return trainerStatus;
    }

    Map<String, String> getLabels() {
        return labels;
    }
}
