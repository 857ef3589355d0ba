package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.Processes;
import dev.steadyrun.agent.testing.ScriptedTrainer;
import dev.steadyrun.agent.testing.StubOrchestrator;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.TrainerState;

/**
 * The agent as a real child JVM ({@link Main}) with a real trainer child. Killed with SIGKILL, the trainer must
 * not survive it; stopped with SIGTERM, it stops the trainer (SIGTERM, grace) before exiting. The orchestrator
 * here is {@link StubOrchestrator}; the end-to-end suite repeats the SIGKILL case against the real orchestrator
 * and the real trainer-engine.
 */
class AgentProcessTest {

    private Process agent;
    private StubOrchestrator orchestrator;
    private final String marker = "marker-" + UUID.randomUUID();

    @AfterEach
    void tearDown() {
        if (agent != null) {
            agent.descendants().forEach(ProcessHandle::destroyForcibly);
            agent.destroyForcibly();
        }
        // whatever a failed test left behind, found by the marker in its command line
        Processes.withCommandLineContaining(marker).forEach(pid -> ProcessHandle.of(pid)
                .ifPresent(ProcessHandle::destroyForcibly));
        if (orchestrator != null) {
            orchestrator.close();
        }
    }

    /** Starts the agent as a child JVM and waits until its trainer reports steps; returns the trainer's processes. */
    private List<Long> agentWithRunningTrainer(Path dir) throws Exception {
        orchestrator = new StubOrchestrator();
        orchestrator.desired = DesiredState.RUN;
        orchestrator.assignment = new Assignment(UUID.randomUUID(), 0, 1, 1, Map.of("stepMillis", "100",
                "marker", marker), null, null, "ckpt", RestartKnobs.NONE, null, 0, null);
        List<String> argv = new ArrayList<>(List.of(Processes.java(), "-Xmx96m", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "--url", orchestrator.url().toString(),
                "--join-token", StubOrchestrator.JOIN_TOKEN, "--node-name", "orphan-test",
                "--checkpoint-root", dir.toString(), "--state-dir", dir.resolve("state").toString(),
                "--stop-grace", "2s", "--hot-spare", "false",
                "--trainer-command", String.join(" ", ScriptedTrainer.command())));
        agent = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(dir.resolve("agent.log").toFile()).start();

        Await.until("the trainer to report steps through the agent", Duration.ofSeconds(60),
                () -> orchestrator.beats.stream().anyMatch(b -> b.request().trainer().state() == TrainerState.RUNNING
                        && b.request().trainer().lastStep() >= 2));
        List<Long> trainers = Processes.withCommandLineContaining(marker);
        assertThat(trainers).as("the wrapper shell and the trainer JVM").hasSizeGreaterThanOrEqualTo(2);
        return trainers;
    }

    @Test
    void sigkillOfTheAgentLeavesNoTrainerBehind(@TempDir Path dir) throws Exception {
        List<Long> trainers = agentWithRunningTrainer(dir);

        Processes.kill("KILL", agent.pid());

        Await.until("every process of the trainer's group to be gone", Duration.ofSeconds(15),
                () -> trainers.stream().noneMatch(Processes::running));
        assertThat(Processes.withCommandLineContaining(marker)).isEmpty();
    }

    @Test
    void sigtermOfTheAgentStopsTheTrainerFirst(@TempDir Path dir) throws Exception {
        List<Long> trainers = agentWithRunningTrainer(dir);

        Processes.kill("TERM", agent.pid());

        assertThat(agent.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).as("agent exited").isTrue();
        assertThat(trainers).noneMatch(Processes::running);
        assertThat(java.nio.file.Files.readString(dir.resolve("agent.log")))
                .contains("stopping trainer generation 1: agent shutting down")
                .contains("trainer generation 1 exited with 143");
    }

    @Test
    void theTrainerSeesNeitherTheJoinTokenNorTheNodeCredentialNorOtherAgentSecrets(@TempDir Path dir)
            throws Exception {
        orchestrator = new StubOrchestrator();
        orchestrator.desired = DesiredState.RUN;
        orchestrator.assignment = new Assignment(UUID.randomUUID(), 0, 1, 1, Map.of("marker", marker), null,
                null, "ckpt", RestartKnobs.NONE, null, 0, null);
        Path envDump = dir.resolve("trainer-env.txt");
        Path trainer = dir.resolve("env-trainer.sh");
        // a trainer that only writes down what it was given
        Files.writeString(trainer, "#!/bin/sh\nenv > '" + envDump + ".tmp' && mv '" + envDump + ".tmp' '" + envDump
                + "'\nexec sleep 60\n");
        assertThat(trainer.toFile().setExecutable(true)).isTrue();
        ProcessBuilder pb = new ProcessBuilder(Processes.java(), "-Xmx96m", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "--url", orchestrator.url().toString(), "--node-name", "env-test",
                "--checkpoint-root", dir.toString(), "--stop-grace", "2s", "--trainer-command", trainer.toString());
        pb.environment().put("STEADYRUN_JOIN_TOKEN", StubOrchestrator.JOIN_TOKEN); // the usual way to give it
        pb.environment().put("STEADYRUN_STATE_DIR", dir.resolve("state").toString());
        pb.environment().put("CLOUD_API_KEY", "agent-only-secret");
        pb.environment().put("OMP_NUM_THREADS", "3");
        agent = pb.redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile()).start();

        Await.until("the trainer to write its environment", Duration.ofSeconds(60), () -> Files.exists(envDump));
        String env = Files.readString(envDump);
        String credential = Files.readString(dir.resolve("state").resolve("env-test.credential")).strip();
        assertThat(credential).startsWith("srn_");
        assertThat(env).doesNotContain(StubOrchestrator.JOIN_TOKEN).doesNotContain(credential)
                .doesNotContain("agent-only-secret").doesNotContain("STEADYRUN_JOIN_TOKEN")
                .doesNotContain("STEADYRUN_STATE_DIR");
        assertThat(env).contains("PATH=" + System.getenv("PATH")).contains("OMP_NUM_THREADS=3");
    }
}
