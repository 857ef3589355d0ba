package dev.steadyrun.orchestrator.recovery;

import static dev.steadyrun.orchestrator.recovery.ExitClassifier.ExitClass.INFRASTRUCTURE;
import static dev.steadyrun.orchestrator.recovery.ExitClassifier.ExitClass.SUCCESS;
import static dev.steadyrun.orchestrator.recovery.ExitClassifier.ExitClass.USER_CODE;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.ExitCodes;

class ExitClassifierTest {

    @Test
    void ourOwnStopsPeersAndNativeCrashesAreInfrastructure() {
        for (int code : new int[]{ExitCodes.TERMINATED, ExitCodes.KILLED, ExitCodes.PEER_LOST,
                ExitCodes.STALE_GENERATION, ExitCodes.CORRUPT_CHECKPOINT, 134, 139}) {
            assertThat(ExitClassifier.classify(code)).as("exit %d", code).isEqualTo(INFRASTRUCTURE);
        }
    }

    @Test
    void kubeflowsPermanentCodesOtherThan139AreUserCode() {
        for (int code : new int[]{1, ExitCodes.BAD_CONFIG, 126, 127, 128, ExitCodes.DIVERGED}) {
            assertThat(ExitClassifier.classify(code)).as("exit %d", code).isEqualTo(USER_CODE);
        }
    }

    @Test
    void zeroIsSuccess() {
        assertThat(ExitClassifier.classify(0)).isEqualTo(SUCCESS);
    }
}
