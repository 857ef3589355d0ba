package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.TrainerProtocol;

class TrainerEnvironmentTest {

    /** The node's memory snapshot root reaches the trainer; the agent's secrets do not. */
    @Test
    void passesTheSnapshotRootButNotTheAgentsSecrets() {
        Map<String, String> env = TrainerEnvironment.of(Map.of(TrainerProtocol.SNAPSHOT_ROOT_ENV, "/dev/shm/steadyrun",
                "STEADYRUN_JOIN_TOKEN", "secret", "PATH", "/usr/bin"));
        assertThat(env).containsEntry(TrainerProtocol.SNAPSHOT_ROOT_ENV, "/dev/shm/steadyrun")
                .containsEntry("PATH", "/usr/bin").doesNotContainKey("STEADYRUN_JOIN_TOKEN")
                .containsEntry(TrainerProtocol.ENV, Integer.toString(TrainerProtocol.VERSION));
    }
}
