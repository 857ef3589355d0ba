package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.RestartKnobs;

class TrainerCommandTest {

    private static Assignment restoring(String path, String sha) {
        return new Assignment(UUID.randomUUID(), 0, 1, 2, Map.of(), path, sha, "ckpt", RestartKnobs.NONE, null, 60,
                null);
    }

    /** The trainer gets the manifest SHA-256 the orchestrator recorded next to the checkpoint it restores. */
    @Test
    void passesTheRecordedManifestShaWithTheRestore() {
        List<String> argv = TrainerCommand.argv(List.of("trainer"), restoring("/store/run/step-00000020", "ab12"),
                Path.of("/root"));
        int restore = argv.indexOf("--restore");
        assertThat(argv.subList(restore, restore + 4))
                .containsExactly("--restore", "/store/run/step-00000020", "--restore-sha256", "ab12");
        assertThat(TrainerCommand.argv(List.of("trainer"), restoring(null, null), Path.of("/root")))
                .doesNotContain("--restore", "--restore-sha256");
    }
}
