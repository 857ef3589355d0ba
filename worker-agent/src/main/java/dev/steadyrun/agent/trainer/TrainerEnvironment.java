package dev.steadyrun.agent.trainer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.TrainerProtocol;

/**
 * The environment a trainer starts with: an allow-list of the agent's own, never all of it. The agent's
 * environment carries its secrets ({@code STEADYRUN_JOIN_TOKEN}, and whatever else its operator put there), and a
 * trainer runs the user's code: it is trusted with its ring and nothing else.
 */
final class TrainerEnvironment {

    /**
     * What a JVM trainer needs to start and find its GPUs and libraries, the thread count the agent's operator
     * chose for it, the trainer-engine's data cache, and the node's memory snapshot root.
     */
    static final Set<String> PASSED = Set.of("PATH", "HOME", "JAVA_HOME", "LANG", "LC_ALL", "TZ", "TMPDIR",
            "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "STEADYRUN_CACHE",
            TrainerProtocol.SNAPSHOT_ROOT_ENV);

    private TrainerEnvironment() {
    }

    /** The allowed part of {@code agent}'s environment, and the trainer protocol version the agent speaks. */
    static Map<String, String> of(Map<String, String> agent) {
        Map<String, String> env = new HashMap<>();
        env.put(TrainerProtocol.ENV, Integer.toString(TrainerProtocol.VERSION));
        for (String name : PASSED) {
            String value = agent.get(name);
            if (value != null) {
                env.put(name, value);
            }
        }
        return env;
    }

    /**
     * What one local rank's trainer sees beyond that: its one GPU alone ({@code CUDA_VISIBLE_DEVICES}) on a GPU node,
     * its share of the cores ({@code OMP_NUM_THREADS}, as its {@code threads} setting) for a CPU rank of several.
     * Nothing for an assignment without local ranks, or none (a standby trainer): the agent's own values pass.
     */
    static Map<String, String> ofRank(Assignment a) {
        List<LocalRank> local = a == null ? null : a.localRanks();
        if (local == null || local.size() != 1) {
            return Map.of();
        }
        if (local.get(0).cudaVisibleDevices() != null) {
            return Map.of("CUDA_VISIBLE_DEVICES", local.get(0).cudaVisibleDevices());
        }
        String threads = a.trainerConfig() == null ? null : a.trainerConfig().get(NodeTrainers.THREADS);
        return threads == null ? Map.of() : Map.of("OMP_NUM_THREADS", threads);
    }
}
