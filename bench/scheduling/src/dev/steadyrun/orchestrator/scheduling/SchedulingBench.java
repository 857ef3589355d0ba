package dev.steadyrun.orchestrator.scheduling;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * In-process figures for the scheduling feature's hot and warm paths (no database, no HTTP):
 * <ol>
 *   <li>{@link NodeDirectives#directivesFor}: the heartbeat path's answer from the in-memory snapshot, for a fleet
 *       of {@code --nodes} nodes (ranks of live runs, spares, nodes of pausing runs, idle nodes, stale trainers);</li>
 *   <li>{@link NodeDirectives#install}: swapping in a new snapshot of that size;</li>
 *   <li>{@link GangPlacer#place}: choosing a gang of {@code --world} ranks + {@code --spares} spares among the
 *       fleet, labelled in racks of 32 nodes in 4 zones.</li>
 * </ol>
 * Prints the median of {@code --rounds} timed rounds after warm-up rounds.
 */
public final class SchedulingBench {

    public static void main(String[] args) {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int nodes = Integer.parseInt(a.getOrDefault("nodes", "10000"));
        int world = Integer.parseInt(a.getOrDefault("world", "512"));
        int spares = Integer.parseInt(a.getOrDefault("spares", "16"));
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "15"));

        List<UUID> ids = new ArrayList<>();
        Map<UUID, NodeWork> snapshot = new HashMap<>();
        List<TrainerStatus> statuses = new ArrayList<>();
        UUID live = UUID.randomUUID();
        UUID pausing = UUID.randomUUID();
        for (int i = 0; i < nodes; i++) {
            UUID id = UUID.randomUUID();
            ids.add(id);
            switch (i % 8) {
                case 0, 1, 2, 3 -> { // rank of a live run, trainer running at the current generation
                    snapshot.put(id, new NodeWork(live, RunState.RUNNING, 3, new Assignment(live, i, nodes, 3,
                            Map.of("model", "125M"), null, null, "/ckpt/" + live, RestartKnobs.NONE, "h0:29500", 600, null)));
                    statuses.add(new TrainerStatus(TrainerState.RUNNING, live, i, 3, null, 100, List.of(), null));
                }
                case 4 -> { // rank with a stale trainer
                    snapshot.put(id, new NodeWork(live, RunState.RUNNING, 3, new Assignment(live, i, nodes, 3,
                            Map.of("model", "125M"), null, null, "/ckpt/" + live, RestartKnobs.NONE, "h0:29500", 600, null)));
                    statuses.add(new TrainerStatus(TrainerState.RUNNING, live, i, 2, null, 100, List.of(), null));
                }
                case 5 -> { // spare
                    snapshot.put(id, new NodeWork(live, RunState.RUNNING, 3, null));
                    statuses.add(TrainerStatus.idle());
                }
                case 6 -> { // node of a pausing run whose trainer exited
                    snapshot.put(id, new NodeWork(pausing, RunState.PAUSING, 1, new Assignment(pausing, 0, 1, 1,
                            Map.of(), null, null, "/ckpt", RestartKnobs.NONE, null, 600, null)));
                    statuses.add(new TrainerStatus(TrainerState.EXITED, pausing, 0, 1, 143, 10, List.of(), null));
                }
                default -> statuses.add(TrainerStatus.idle()); // idle node
            }
        }
        NodeDirectives directives = new NodeDirectives(event -> { });
        LeaseTimings timings = LeaseTimings.DEFAULT;

        System.out.printf("== %d nodes, %d rounds (median)%n", nodes, rounds);
        double[] perCall = new double[rounds];
        double[] install = new double[rounds];
        int[] counts = new int[DesiredState.values().length];
        for (int r = -5; r < rounds; r++) {
            long t0 = System.nanoTime();
            directives.install(snapshot);
            long t1 = System.nanoTime();
            for (int i = 0; i < nodes; i++) {
                counts[directives.directivesFor(ids.get(i), statuses.get(i), timings).desired().ordinal()]++;
            }
            long t2 = System.nanoTime();
            directives.drainStopsConfirmed();
            if (r >= 0) {
                install[r] = (t1 - t0) / 1e6;
                perCall[r] = (double) (t2 - t1) / nodes;
            }
        }
        System.out.printf("directivesFor: %.0f ns per heartbeat (%.1f million heartbeats/s on one thread)%n",
                median(perCall), 1e3 / median(perCall));
        System.out.printf("  answers per round: RUN %d, STOP %d, IDLE %d%n", counts[DesiredState.RUN.ordinal()] / (rounds + 5),
                counts[DesiredState.STOP.ordinal()] / (rounds + 5), counts[DesiredState.IDLE.ordinal()] / (rounds + 5));
        System.out.printf("install snapshot: %.2f ms%n", median(install));

        List<GangPlacer.Candidate> fleet = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            fleet.add(new GangPlacer.Candidate(ids.get(i), String.format("node-%05d", i),
                    Map.of(GangPlacer.ZONE, "z" + (i % 4), GangPlacer.RACK, "r" + (i / 32))));
        }
        double[] place = new double[rounds];
        for (int r = -5; r < rounds; r++) {
            long t0 = System.nanoTime();
            GangPlacer.Gang gang = GangPlacer.place(fleet, world, spares).orElseThrow();
            long t1 = System.nanoTime();
            if (gang.ranks().size() != world) {
                throw new AssertionError("placed " + gang.ranks().size());
            }
            if (r >= 0) {
                place[r] = (t1 - t0) / 1e6;
            }
        }
        System.out.printf("GangPlacer.place (%d ranks + %d spares of %d nodes): %.2f ms%n", world, spares, nodes,
                median(place));
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
