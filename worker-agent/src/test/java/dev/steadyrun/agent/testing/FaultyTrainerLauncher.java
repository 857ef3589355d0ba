package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * TEST TOOL: the agents' trainer command in the recovery stories. A shell script that reads the generation and
 * rank the agent passes, adds the trainer's fault knobs ({@code debugHangAtStep}, {@code debugDivergeAtStep}, …)
 * planned for exactly that generation (and rank), and then {@code exec}s the real trainer, so the trainer keeps
 * the pid the agent's watchdog and {@code jcmd} see.
 *
 * <p>Planning per generation is what lets a story show recovery: the trainer saves its configuration in every
 * checkpoint, so a fault knob given once would come back with the restore; the script switches the knobs off
 * explicitly in every generation that has no plan.
 *
 * <p>A plan is a file next to the run's checkpoint directory ({@code <checkpointLocation>/trainer-faults-g<G>} for
 * every rank, {@code …-g<G>-r<R>} for one rank) holding the extra trainer arguments.
 */
public final class FaultyTrainerLauncher {

    static final String SCRIPT = """
            ckpt=; gen=; rank=; prev=
            for a in "$@"; do
              case "$prev" in
                --checkpoint-dir) ckpt=$a ;;
                --generation) gen=$a ;;
                --rank) rank=$a ;;
              esac
              prev=$a
            done
            plan="$(dirname "$ckpt")/trainer-faults-g$gen"
            extra=
            if [ -f "$plan-r$rank" ]; then extra=$(cat "$plan-r$rank"); elif [ -f "$plan" ]; then extra=$(cat "$plan"); fi
            [ -n "$extra" ] && echo "fault launcher: generation $gen rank $rank gets $extra" >&2
            exec "$@" --set debugHangAtStep=-1 --set debugDivergeAtStep=-1 %s $extra
            """;

    private FaultyTrainerLauncher() {
    }

    /**
     * Writes the script into {@code dir}; returns the agent's {@code trainer-command} that runs it.
     *
     * @param everyTrainer arguments for every trainer, e.g. {@code --set threads=1}
     */
    public static String trainerCommand(Path dir, String realTrainerCommand, String everyTrainer) throws IOException {
        Path script = dir.resolve("faulty-trainer-launcher.sh");
        Files.writeString(script, SCRIPT.formatted(everyTrainer));
        return "/bin/sh " + script + " " + realTrainerCommand;
    }

    /** Plans extra trainer arguments for one generation of the runs checkpointing under {@code location}. */
    public static void plan(Path location, long generation, Integer rank, String trainerArgs) throws IOException {
        Files.createDirectories(location);
        Files.writeString(location.resolve("trainer-faults-g" + generation + (rank == null ? "" : "-r" + rank)),
                trainerArgs);
    }
}
