package dev.steadyrun.agent.trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.RestartKnobs;

/** The trainer-engine command line for one assignment. */
public final class TrainerCommand {

    private TrainerCommand() {
    }

    /** Relative checkpoint directories of an assignment live under the agent's checkpoint root. */
    public static Path checkpointDir(Assignment a, Path checkpointRoot) {
        Path dir = Path.of(a.checkpointDir() == null || a.checkpointDir().isBlank()
                ? "run-" + a.runId() : a.checkpointDir());
        return dir.isAbsolute() ? dir : checkpointRoot.resolve(dir).toAbsolutePath();
    }

    public static List<String> argv(List<String> base, Assignment a, Path checkpointRoot) {
        List<String> argv = new ArrayList<>(base);
        argv.add("train");
        Map<String, String> config = a.trainerConfig() == null ? Map.of() : new TreeMap<>(a.trainerConfig());
        config.forEach((k, v) -> {
            argv.add("--set");
            argv.add(k + "=" + v);
        });
        argv.add("--checkpoint-dir");
        argv.add(checkpointDir(a, checkpointRoot).toString());
        if (a.restoreFrom() != null && !a.restoreFrom().isBlank()) {
            argv.add("--restore");
            argv.add(a.restoreFrom());
            if (a.restoreSha256() != null) {
                argv.add("--restore-sha256");
                argv.add(a.restoreSha256());
            }
        }
        argv.addAll((a.knobs() == null ? RestartKnobs.NONE : a.knobs()).toArgs());
        argv.addAll(List.of("--rank", Integer.toString(a.rank()), "--world-size", Integer.toString(a.worldSize()),
                "--generation", Long.toString(a.generation()), "--run-id", a.runId().toString()));
        if (a.rendezvous() != null && !a.rendezvous().isBlank()) {
            argv.add("--rendezvous");
            argv.add(a.rendezvous());
        }
        return argv;
    }
}
