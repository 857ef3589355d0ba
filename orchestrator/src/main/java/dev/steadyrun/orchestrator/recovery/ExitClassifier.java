package dev.steadyrun.orchestrator.recovery;

import dev.steadyrun.protocol.ExitCodes;

/**
 * Sorts a trainer's exit code into who is to blame, which decides whether the restart is charged to the run's
 * budget. The codes themselves are defined once in {@link ExitCodes}.
 *
 * <p>For reference, Kubeflow's training operator treats exit codes 1, 2, 126, 127, 128 and 139 as permanent (the
 * user's fault, not retried). We agree on 1, 2 (our {@link ExitCodes#BAD_CONFIG}), 126, 127 and 128, and differ
 * on 139: a SIGSEGV in our trainer comes from the native ND4J library or the driver, not from the user's
 * configuration, so it is infrastructure here. 137 and 143 (SIGKILL, SIGTERM) are how our own stops end a
 * trainer (the agent stops it with SIGTERM, then SIGKILL), so they are infrastructure too.
 */
public final class ExitClassifier {

    public enum ExitClass { SUCCESS, INFRASTRUCTURE, USER_CODE }

    private ExitClassifier() {
    }

    public static ExitClass classify(int exitCode) {
        if (exitCode == ExitCodes.OK) {
            return ExitClass.SUCCESS;
        }
        return ExitCodes.isInfrastructure(exitCode) ? ExitClass.INFRASTRUCTURE : ExitClass.USER_CODE;
    }
}
