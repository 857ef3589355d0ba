package dev.steadyrun.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.protocol.CheckpointPin;

class CheckpointFilesTest {

    private static Map<String, INDArray> arrays() {
        Map<String, INDArray> m = new LinkedHashMap<>();
        m.put("layer/0/W", Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}}));
        m.put("moments", Nd4j.createFromArray(0.25, -1.5));
        return m;
    }

    @Test
    void aCheckpointComesBackAsWritten(@TempDir Path dir) throws Exception {
        CheckpointFiles.Written w = CheckpointFiles.write(dir, 7, arrays(), "{\"mine\":1}", 3);

        assertThat(w.path()).isEqualTo(dir.resolve("step-00000007"));
        assertThat(CheckpointFiles.sha256(Files.readAllBytes(w.path().resolve("manifest.json"))))
                .isEqualTo(w.manifestSha256());
        CheckpointFiles.Content c = CheckpointFiles.load(w.path(), w.manifestSha256());
        assertThat(c.step()).isEqualTo(7);
        assertThat(c.arrays()).containsOnlyKeys("layer/0/W", "moments");
        assertThat(c.arrays().get("layer/0/W")).isEqualTo(arrays().get("layer/0/W"));
        assertThat(c.arrays().get("moments")).isEqualTo(arrays().get("moments"));
        assertThat(c.stateJson()).isEqualTo("{\"mine\":1}");
        try (var files = Files.list(dir)) {
            assertThat(files).as("no temporary directory left").containsExactly(w.path());
        }
    }

    @Test
    void aFlippedByteOrAnotherManifestIsCorruptAMissingFileUnavailable(@TempDir Path dir) throws Exception {
        CheckpointFiles.Written w = CheckpointFiles.write(dir, 1, arrays(), "{}", 3);
        String otherSha = "0".repeat(64);
        assertThatThrownBy(() -> CheckpointFiles.load(w.path(), otherSha))
                .isInstanceOf(CheckpointFiles.CorruptException.class).hasMessageContaining("manifest.json");

        Path array = w.path().resolve("array-1.bin");
        byte[] b = Files.readAllBytes(array);
        b[b.length - 1] ^= 1;
        Files.write(array, b);
        assertThatThrownBy(() -> CheckpointFiles.load(w.path(), w.manifestSha256()))
                .isInstanceOf(CheckpointFiles.CorruptException.class).hasMessageContaining("array-1.bin");

        Files.delete(array);
        assertThatThrownBy(() -> CheckpointFiles.load(w.path(), w.manifestSha256()))
                .isInstanceOf(CheckpointFiles.UnavailableException.class).hasMessageContaining("missing");
        assertThatThrownBy(() -> CheckpointFiles.load(dir.resolve("step-00000099"), null))
                .isInstanceOf(CheckpointFiles.UnavailableException.class);
    }

    @Test
    void retentionKeepsTheNewestAndThePinnedAndRollbackSetsNewerAside(@TempDir Path dir) throws Exception {
        CheckpointFiles.write(dir, 1, arrays(), "{}", 2);
        CheckpointFiles.write(dir, 2, arrays(), "{}", 2);
        CheckpointPin.add(dir, 2);
        assertThat(CheckpointFiles.write(dir, 3, arrays(), "{}", 2).removedSteps()).containsExactly(1L);
        CheckpointFiles.Written w = CheckpointFiles.write(dir, 4, arrays(), "{}", 2);
        assertThat(w.removedSteps()).as("step 2 is pinned").isEmpty();
        assertThat(dir.resolve("step-00000002")).isDirectory();

        Files.createDirectories(dir.resolve(".tmp-step-00000005-x"));
        CheckpointFiles.setAsideNewer(dir, 2, 9);
        assertThat(dir.resolve("abandoned/gen-9/step-00000003")).isDirectory();
        assertThat(dir.resolve("abandoned/gen-9/step-00000004")).isDirectory();
        assertThat(dir.resolve("step-00000002")).isDirectory();
        assertThat(dir.resolve(".tmp-step-00000005-x")).doesNotExist();

        // a start from scratch sets every step aside, even one the same generation set aside before
        CheckpointFiles.write(dir, 3, arrays(), "{}", 5);
        CheckpointFiles.setAsideNewer(dir, 0, 9);
        try (var steps = Files.list(dir.resolve("abandoned/gen-9"))) {
            assertThat(steps.map(p -> p.getFileName().toString()).sorted().toList()).hasSize(4)
                    .first().isEqualTo("step-00000002");
        }
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString()).toList())
                    .containsExactlyInAnyOrder("abandoned", CheckpointPin.FILE);
        }
    }
}
