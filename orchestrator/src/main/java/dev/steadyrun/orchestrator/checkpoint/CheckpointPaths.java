package dev.steadyrun.orchestrator.checkpoint;

import dev.steadyrun.protocol.CheckpointWritten;

/**
 * Where a run's checkpoints may be: the {@code step-N} directories of its own checkpoint directory, nothing else. A
 * checkpoint line naming any other path would plant a restore point (the next generation restores whatever path the
 * orchestrator hands it), so such lines are refused.
 */
public final class CheckpointPaths {

    private CheckpointPaths() {
    }

    /**
     * Why a reported checkpoint line is refused, or null when it names {@code <checkpointDir>/step-<step>} (the
     * trainer writes the step zero-padded, {@code step-00000042}). A relative
     * {@code checkpointDir} (resolved by each agent under its own root) must end the reported path's parent.
     */
    public static String refusal(CheckpointWritten c, String checkpointDir) {
        String path = c.path();
        if (path.indexOf('\0') >= 0 || path.indexOf('\n') >= 0 || path.indexOf('\r') >= 0) {
            return "path holds a control character";
        }
        if (!path.startsWith("/")) {
            return "path must be absolute";
        }
        for (String segment : path.substring(1).split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return "path must be normalized (no empty, '.' or '..' segments)";
            }
        }
        int slash = path.lastIndexOf('/');
        String leaf = path.substring(slash + 1);
        if (!leaf.matches("step-[0-9]{1,19}") || !leaf.substring(5).replaceFirst("^0+(?=.)", "")
                .equals(Long.toString(c.step()))) {
            return "path must end with step-" + c.step() + " (or its zero-padded form), the step it reports";
        }
        String parent = path.substring(0, slash);
        String dir = checkpointDir.endsWith("/") ? checkpointDir.substring(0, checkpointDir.length() - 1) : checkpointDir;
        boolean inside = dir.startsWith("/") ? parent.equals(dir) : parent.endsWith("/" + dir);
        if (!inside) {
            return "path must be in the run's checkpoint directory " + dir;
        }
        for (long removed : c.removedSteps()) {
            if (removed < 0 || removed >= c.step()) {
                return "removedSteps may only name older checkpoints, was " + removed;
            }
        }
        return null;
    }
}
