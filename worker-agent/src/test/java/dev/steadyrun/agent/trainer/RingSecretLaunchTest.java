package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;

/** The ring secret reaches the trainer in its environment, never on its command line (which {@code ps} shows). */
class RingSecretLaunchTest {

    @Test
    void theTrainerGetsTheRingSecretInItsEnvironmentOnly(@TempDir Path dir) throws Exception {
        Path trainer = dir.resolve("trainer.sh");
        Files.writeString(trainer, """
                #!/bin/sh
                echo "$@" > "%1$s/args"
                printf '%%s' "$STEADYRUN_RING_SECRET" > "%1$s/env.tmp" && mv "%1$s/env.tmp" "%1$s/env"
                """.formatted(dir));
        RingSecret secret = RingSecret.random();
        TrainerSupervisor supervisor = new TrainerSupervisor(List.of("/bin/sh", trainer.toString()), dir,
                Duration.ofSeconds(2), 50, Clock.systemUTC(), new ReportBuffer(100, 100),
                new LogBuffer(100), ThreadDumper.forThisJvm(Duration.ofSeconds(5)), Duration.ofMillis(100), null);
        try {
            supervisor.apply(DesiredState.RUN, new Assignment(UUID.randomUUID(), 1, 2, 3, Map.of(), null, null, "ckpt",
                    RestartKnobs.NONE, "127.0.0.1:29500", 0, secret));
            Await.until("the trainer to start", Duration.ofSeconds(30), () -> Files.exists(dir.resolve("env")));
            assertThat(Files.readString(dir.resolve("env"))).isEqualTo(secret.value());
            assertThat(Files.readString(dir.resolve("args"))).contains("--rendezvous 127.0.0.1:29500")
                    .doesNotContain(secret.value());
        } finally {
            supervisor.shutdown();
        }
    }
}
