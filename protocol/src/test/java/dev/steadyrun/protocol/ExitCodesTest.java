package dev.steadyrun.protocol;

import static dev.steadyrun.protocol.ExitCodes.Meaning.DIVERGED;
import static dev.steadyrun.protocol.ExitCodes.Meaning.FINISHED;
import static dev.steadyrun.protocol.ExitCodes.Meaning.INFRASTRUCTURE;
import static dev.steadyrun.protocol.ExitCodes.Meaning.RESTORE_FAILED;
import static dev.steadyrun.protocol.ExitCodes.Meaning.USER_CODE;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ExitCodesTest {

    @Test
    void ourOwnStopsPeersAndNativeCrashesAreInfrastructureAndNotCharged() {
        for (int code : new int[]{ExitCodes.TERMINATED, ExitCodes.KILLED, ExitCodes.PEER_LOST,
                ExitCodes.STALE_GENERATION, 134, 139}) {
            assertThat(ExitCodes.meaningOf(code)).as("exit %d", code).isEqualTo(INFRASTRUCTURE);
            assertThat(ExitCodes.meaningOf(code).chargesRestartBudget()).isFalse();
        }
    }

    @Test
    void kubeflowsPermanentCodesOtherThan139AreUserCodeAndCharged() {
        for (int code : new int[]{1, ExitCodes.BAD_CONFIG, 126, 127, 128}) {
            assertThat(ExitCodes.meaningOf(code)).as("exit %d", code).isEqualTo(USER_CODE);
            assertThat(ExitCodes.meaningOf(code).chargesRestartBudget()).isTrue();
        }
    }

    @Test
    void aDivergedExitIsADivergenceNotACrash() {
        assertThat(ExitCodes.meaningOf(ExitCodes.DIVERGED)).isEqualTo(DIVERGED);
        assertThat(DIVERGED.chargesRestartBudget()).isFalse();
    }

    @Test
    void aFailedRestoreAndSuccessHaveTheirOwnMeaning() {
        assertThat(ExitCodes.meaningOf(ExitCodes.CORRUPT_CHECKPOINT)).isEqualTo(RESTORE_FAILED);
        assertThat(ExitCodes.meaningOf(ExitCodes.CHECKPOINT_UNAVAILABLE)).isEqualTo(ExitCodes.Meaning.RESTORE_UNAVAILABLE);
        assertThat(ExitCodes.Meaning.RESTORE_UNAVAILABLE.chargesRestartBudget()).isFalse();
        assertThat(ExitCodes.meaningOf(0)).isEqualTo(FINISHED);
    }
}
