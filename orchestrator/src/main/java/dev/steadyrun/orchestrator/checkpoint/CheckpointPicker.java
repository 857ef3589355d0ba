package dev.steadyrun.orchestrator.checkpoint;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;

import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * Chooses the checkpoint a run restarts from, among those the trainer reported (it reports one only after writing
 * and summing every file and renaming it into place). After a divergence: the newest one not known corrupt, healthy
 * (loss scale at or above the policy's threshold when it was written), at least the policy's margin before the
 * onset, and not one whose restarts already ended in the same divergence too often. After a hardware or crash
 * failure: the newest one not known corrupt. Each newer checkpoint passed over is returned with the reason, for the
 * run's logbook. When a restore then fails (a checksum mismatch), the caller marks it corrupt and asks again: the
 * next older one comes out.
 */
public class CheckpointPicker {

    /**
     * @param corrupt              a restore from it failed a checksum
     * @param unavailable          restores from it could not read it on several nodes
     * @param sameDivergenceEndings how many restarts from it ended in the divergence kind now being handled
     */
    public record Candidate(long step, double lossScale, boolean corrupt, boolean unavailable,
                            int sameDivergenceEndings) {

        public Candidate(long step, double lossScale, boolean corrupt, int sameDivergenceEndings) {
            this(step, lossScale, corrupt, false, sameDivergenceEndings);
        }
    }

    public record Skip(long step, String reason) {
    }

    /** The checkpoint chosen (empty: none fits, call a human) and every newer one passed over, newest first. */
    public record Pick(Optional<Candidate> chosen, List<Skip> skipped) {
    }

    private final RecoveryPolicy policy;

    public CheckpointPicker(RecoveryPolicy policy) {
        this.policy = policy;
    }

    /** For a divergence that began at {@code onsetStep}. */
    public Pick beforeDivergence(List<Candidate> candidates, long onsetStep) {
        long latestAllowed = onsetStep - policy.rollbackMarginSteps();
        return pick(candidates, c -> {
            String usable = usable(c);
            if (usable != null) {
                return usable;
            }
            if (c.step() > latestAllowed) {
                return "too close to the divergence onset at step " + onsetStep + " (margin "
                        + policy.rollbackMarginSteps() + " steps)";
            }
            if (c.lossScale() < policy.healthyLossScale()) {
                return "unhealthy: loss scale " + c.lossScale() + " below " + policy.healthyLossScale();
            }
            if (c.sameDivergenceEndings() >= policy.maxSameDivergenceRestarts()) {
                return "already led to the same divergence " + c.sameDivergenceEndings() + " times";
            }
            return null;
        });
    }

    /** For a failure that says nothing about the model's state (lost node, GPU fault, crash). */
    public Pick latestUsable(List<Candidate> candidates) {
        return pick(candidates, CheckpointPicker::usable);
    }

    /**
     * The checkpoint an operator named: chosen when it exists and is not corrupt (then its own skip says why not),
     * every newer one passed over.
     */
    public Pick exactly(List<Candidate> candidates, long step) {
        return pick(candidates, c -> c.step() > step ? "newer than the chosen checkpoint"
                : c.step() == step ? usable(c) : "older than the chosen checkpoint");
    }

    /**
     * One node's report of a memory snapshot: which ranks' shards it holds (its rank's own and the ring predecessor's).
     *
     * @param worldSize the world size of the generation that wrote it: every rank below it must be held
     * @param unusable  a restore from it failed
     */
    public record Holder(long step, String manifestSha256, int worldSize, UUID nodeId, List<Integer> heldRanks,
                         boolean unusable) {
    }

    /** A memory snapshot whose every shard survives, and for each rank a node of the new generation that holds it. */
    public record MemoryChoice(long step, String manifestSha256, Map<Integer, UUID> shardHolders) {
    }

    /** The memory snapshot chosen (empty: none newer than the durable choice survives), and those passed over. */
    public record MemoryPick(Optional<MemoryChoice> chosen, List<Skip> skipped) {
    }

    /**
     * After a failure that says nothing about the model (the {@link RestoreRule.Mode#LATEST_USABLE} rule only: a
     * divergence rolls back to durable, healthy checkpoints), the newest memory snapshot newer than {@code newerThan}
     * (the durable choice; null: none) whose every rank's shard is held by a node of the new generation, and that no
     * restore proved unusable. Snapshots of one step written by different lineages (a rollback wrote the step again)
     * differ in their manifest and are judged apart, newest report first.
     *
     * @param newNodes the nodes the new generation's ranks are placed on
     */
    public static MemoryPick newestSurvivingSnapshot(List<Holder> holders, Set<UUID> newNodes, Long newerThan) {
        Map<String, List<Holder>> bySnapshot = new LinkedHashMap<>();
        holders.stream().sorted(Comparator.comparingLong(Holder::step).reversed())
                .forEach(h -> bySnapshot.computeIfAbsent(h.step() + "/" + h.manifestSha256(), k -> new ArrayList<>())
                        .add(h));
        List<Skip> skipped = new ArrayList<>();
        for (List<Holder> snapshot : bySnapshot.values()) {
            Holder first = snapshot.get(0);
            if (newerThan != null && first.step() <= newerThan) {
                break;   // a durable checkpoint is as new: it needs no gathering
            }
            if (snapshot.stream().anyMatch(Holder::unusable)) {
                skipped.add(new Skip(first.step(), "memory snapshot unusable: a restore from it failed"));
                continue;
            }
            Map<Integer, UUID> sources = new TreeMap<>();
            List<Integer> lost = new ArrayList<>();
            for (int rank = 0; rank < first.worldSize(); rank++) {
                final int r = rank;
                snapshot.stream().filter(h -> newNodes.contains(h.nodeId()) && h.heldRanks().contains(r))
                        .min(Comparator.comparing(h -> h.nodeId().toString()))
                        .ifPresentOrElse(h -> sources.put(r, h.nodeId()), () -> lost.add(r));
            }
            if (!lost.isEmpty()) {
                skipped.add(new Skip(first.step(), "memory snapshot: the shard(s) of rank(s) " + lost + " survive on no"
                        + " node of the new generation (the rank's node and its ring successor's are both gone)"));
                continue;
            }
            return new MemoryPick(Optional.of(new MemoryChoice(first.step(), first.manifestSha256(), sources)),
                    skipped);
        }
        return new MemoryPick(Optional.empty(), skipped);
    }

    private static String usable(Candidate c) {
        return c.corrupt() ? "corrupt: a restore from it failed" : c.unavailable()
                ? "unavailable: restores could not read it on " + Checkpoints.UNAVAILABLE_AFTER_NODES + " nodes" : null;
    }

    /** @param rejection why a candidate cannot be used, or null when it can */
    private static Pick pick(List<Candidate> candidates, Function<Candidate, String> rejection) {
        List<Skip> skipped = new ArrayList<>();
        for (Candidate c : candidates.stream().sorted(Comparator.comparingLong(Candidate::step).reversed()).toList()) {
            String reason = rejection.apply(c);
            if (reason == null) {
                return new Pick(Optional.of(c), skipped);
            }
            skipped.add(new Skip(c.step(), reason));
        }
        return new Pick(Optional.empty(), skipped);
    }
}
