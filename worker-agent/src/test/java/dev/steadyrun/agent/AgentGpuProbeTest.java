package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.gpu.FakeNvidiaSmi;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.StubOrchestrator;

/**
 * The real agent with a stand-in nvidia-smi that starts to hang (issue 15): its heartbeats must go on, carrying
 * the last good reading, because a node that stops heartbeating never gets its STOP.
 */
class AgentGpuProbeTest {

    @Test
    void heartbeatsGoOnWhileNvidiaSmiHangs(@TempDir Path dir) throws Exception {
        FakeNvidiaSmi smi = new FakeNvidiaSmi(dir);
        Agent agent = null;
        try (StubOrchestrator orchestrator = new StubOrchestrator()) {
            agent = new Agent(AgentConfig.fromMap(Map.of("url", orchestrator.url().toString(),
                    "join-token", StubOrchestrator.JOIN_TOKEN, "node-name", "wedged-gpu",
                    "checkpoint-root", dir.resolve("ckpt").toString(), "state-dir", dir.resolve("state").toString(),
                    "nvidia-smi", smi.executable().toString())),
                    Clock.systemUTC());
            agent.start();
            Await.until("first heartbeats", Duration.ofSeconds(30), () -> orchestrator.beats.size() >= 3);
            assertThat(orchestrator.beats.get(0).request().gpus()).hasSize(1);

            int started = smi.pids().size();
            Files.createFile(smi.hang());
            // a hanging call writes two pids, its own and its child's
            Await.until("a probe that hangs", Duration.ofSeconds(30), () -> smi.pids().size() >= started + 2);
            int before = orchestrator.beats.size();
            Await.until("20 more heartbeats while nvidia-smi hangs", Duration.ofSeconds(30),
                    () -> orchestrator.beats.size() >= before + 20);
            assertThat(orchestrator.beats.get(orchestrator.beats.size() - 1).request().gpus())
                    .as("the last good reading").hasSize(1);
        } finally {
            if (agent != null) {
                agent.stop();
            }
            smi.killAll();
        }
    }
}
