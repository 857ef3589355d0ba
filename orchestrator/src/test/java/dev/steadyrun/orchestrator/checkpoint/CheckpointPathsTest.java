package dev.steadyrun.orchestrator.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.CheckpointWritten;

class CheckpointPathsTest {

    private static String refusal(long step, String path, String dir) {
        return CheckpointPaths.refusal(new CheckpointWritten(step, 0, path, 1.0, 2.0, "00", 1, List.of()), dir);
    }

    @Test
    void theTrainersZeroPaddedStepDirectoryIsAccepted() {
        // what CheckpointStore writes: step-%08d
        assertThat(refusal(2, "/ckpt/run-1/step-00000002", "/ckpt/run-1")).isNull();
        assertThat(refusal(2, "/ckpt/run-1/step-2", "/ckpt/run-1")).isNull();
        assertThat(refusal(0, "/ckpt/run-1/step-00000000", "/ckpt/run-1")).isNull();
        assertThat(refusal(123456789, "/root/c/run-1/step-123456789", "c/run-1")).isNull();
    }

    @Test
    void anotherStepOrPlaceIsRefused() {
        assertThat(refusal(2, "/ckpt/run-1/step-00000003", "/ckpt/run-1")).contains("must end with step-2");
        assertThat(refusal(20, "/ckpt/run-1/step-2", "/ckpt/run-1")).contains("must end with step-20");
        assertThat(refusal(2, "/ckpt/run-1/step-+2", "/ckpt/run-1")).contains("must end with step-2");
        assertThat(refusal(2, "/ckpt/run-1/xstep-2", "/ckpt/run-1")).contains("must end with step-2");
        assertThat(refusal(2, "/ckpt/run-2/step-2", "/ckpt/run-1")).contains("checkpoint directory");
        assertThat(refusal(2, "/ckpt/run-1/../run-1/step-2", "/ckpt/run-1")).contains("normalized");
        assertThat(refusal(2, "ckpt/run-1/step-2", "ckpt/run-1")).contains("absolute");
        assertThat(refusal(2, "/ckpt/run-1/step-2\n", "/ckpt/run-1")).contains("control character");
    }
}
