package dev.steadyrun.trainer.checkpoint;

import java.nio.file.Path;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Test tool run as a child process: writes checkpoints of a few MB as fast as it can, printing each finished
 * step, until the test kills it with SIGKILL (most likely in the middle of a write).
 */
public final class CrashingCheckpointWriter {

    private CrashingCheckpointWriter() {
    }

    public static void main(String[] args) throws Exception {
        try (CheckpointStore store = new CheckpointStore(Path.of(args[0]), new Retention(2, 0))) {
            for (long step = 1; ; step++) {
                store.writeAsync(new CheckpointContent(step, Map.of(
                        "w", Nd4j.rand(DataType.FLOAT, 1024, 1024),
                        "m", Nd4j.rand(DataType.DOUBLE, 256, 1024)), "{\"step\":" + step + "}")).join();
                System.out.println(step);
                System.out.flush();
            }
        }
    }
}
