package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * Issue 16, memory snapshots as restore points: every rank reports the snapshot its node holds (its shard and its
 * ring predecessor's); after a lost node the restart restores the newest snapshot whose every shard survives on a
 * node of the new generation, newer than the durable checkpoint; with two neighbouring nodes lost it falls back to
 * the durable checkpoint; a restore from memory that fails its checksum makes that snapshot unusable; a divergence
 * never rolls back to memory.
 */
class MemorySnapshotRecoveryTest extends RecoverySupport {

    private static final Map<String, Object> QUICK = Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S");
    private static final Map<String, Object> THREE_RANKS = Map.of("hyper", Map.of("batchTokens", 384));

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    /** Rank r's report of snapshot {@code step}: its node holds shards r and r - 1 (of 3). */
    private static CheckpointWritten snapshot(int rank, long step) {
        List<Integer> held = new ArrayList<>(List.of(rank, (rank + 2) % 3));
        held.sort(null);
        return CheckpointWritten.memory(step, (step + 1) * 1024, "/dev/shm/steadyrun/run/rank-" + rank
                        + "/step-" + step, 2.0, 3.0, "memsha" + step, 10, List.of(), rank, held, "shard" + rank,
                "shard" + (rank + 2) % 3);
    }

    /** A 3-rank run on {@code nodes} agents and its first generation, trained. */
    private record Trained(List<Agent> agents, UUID runId, Map<Integer, Agent> gen1) {
        /** The agents without a rank of generation 1. */
        List<Agent> others() {
            return agents.stream().filter(a -> !gen1.containsValue(a)).toList();
        }
    }

    /**
     * Places a 3-rank run with {@code spares} spares on {@code nodes} agents; its generation 1 trains to step 14: a
     * durable checkpoint at 10 (rank 0), memory snapshots at 12 and 14 (every rank).
     */
    private Trained trained(int nodes, int spares, Map<String, Object> policy) {
        String rack = newRack();
        List<Agent> agents = fleet(rack, nodes);
        UUID runId = submit(rack, 3, spares, policy, THREE_RANKS);
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        steps(gen1.get(0), runId, 0, 1, healthySteps(1, 14), List.of(checkpoint(runId, 10, 2.0), snapshot(0, 12),
                snapshot(0, 14)));
        for (int r = 1; r < 3; r++) {
            steps(gen1.get(r), runId, r, 1, healthySteps(1, 14), List.of(snapshot(r, 12), snapshot(r, 14)));
        }
        return new Trained(agents, runId, gen1);
    }

    /** The nodes of {@code lost} go silent; the survivors' trainers exit "peer lost" and the lease sweep runs. */
    private void lose(UUID runId, List<Agent> survivors) {
        clock.advance(Duration.ofSeconds(2));
        survivors.forEach(a -> heartbeat(a, exited(runId, 0, 1, ExitCodes.PEER_LOST, null)));
        clock.advance(Duration.ofSeconds(1));
        survivors.forEach(a -> heartbeat(a, exited(runId, 0, 1, ExitCodes.PEER_LOST, null)));
        sweeper.sweep(clock.instant());
        passBackoff(Duration.ofSeconds(1), survivors);
    }

    @Test
    void aLostNodesShardComesFromItsNeighbourAndASnapshotWhoseRestoreFailedIsNeverChosenAgain() {
        Trained t = trained(4, 1, QUICK);
        UUID runId = t.runId();
        Map<Integer, Agent> gen1 = t.gen1();
        Agent spare = t.others().get(0);
        List<Agent> survivors = List.of(gen1.get(0), gen1.get(2), spare);
        lose(runId, survivors);

        Map<Integer, Agent> gen2 = ranks(survivors, 2);
        assertThat(gen2).containsEntry(0, gen1.get(0)).containsEntry(1, spare).containsEntry(2, gen1.get(2));
        for (Agent a : gen2.values()) {
            Assignment assignment = assignment(a);
            assertThat(assignment.restoreFrom()).as("rank 1's shard from rank 2's node").isEqualTo("memory:14");
            assertThat(assignment.restoreSha256()).isEqualTo("memsha14");
        }
        assertThat(run(runId).get("lastStep").asLong()).as("rewound to the snapshot").isEqualTo(14);
        for (JsonNode incident : incidents(runId)) {
            assertThat(incident.at("/restoreFrom/path").asString()).as("incident %s (%s, joined or not) names the"
                    + " point the ranks restore", incident.get("id"), incident.get("kind")).isEqualTo("memory:14");
        }

        // the gathered snapshot fails its checksum: never a restore point again
        heartbeat(gen2.get(0), exited(runId, 0, 2, ExitCodes.CORRUPT_CHECKPOINT, null));
        stopAll(gen2.values(), runId, 2);
        passBackoff(Duration.ofSeconds(2), gen2.values());
        Map<Integer, Agent> gen3 = ranks(new ArrayList<>(gen2.values()), 3);
        assertThat(assignment(gen3.get(0)).restoreFrom()).as("the next surviving snapshot, still newer than the"
                + " durable checkpoint at 10").isEqualTo("memory:12");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void twoLostNeighboursLeaveAShardNowhereSoTheDurableCheckpointIsRestored() {
        Trained t = trained(5, 2, QUICK);
        UUID runId = t.runId();
        Map<Integer, Agent> gen1 = t.gen1();
        List<Agent> survivors = new ArrayList<>(t.others());
        survivors.add(gen1.get(0));
        lose(runId, survivors);   // ranks 1 and 2: rank 1's shard lived on their nodes only

        Map<Integer, Agent> gen2 = ranks(survivors, 2);
        assertThat(gen2).containsEntry(0, gen1.get(0));
        assertThat(assignment(gen2.get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aDivergenceRollsBackToAHealthyDurableCheckpointNeverToMemory() {
        Trained t = trained(3, 0, Map.of("rollbackMarginSteps", 2, "backoffInitial", "PT1S", "backoffMax", "PT1S"));
        UUID runId = t.runId();
        List<Agent> agents = t.agents();
        steps(t.gen1().get(0), runId, 0, 1, List.of(step(15, Double.NaN, 1000)), List.of());
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(assignment(gen2.get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        heartbeat(gen2.get(0), TrainerStatus.idle());
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }
}
