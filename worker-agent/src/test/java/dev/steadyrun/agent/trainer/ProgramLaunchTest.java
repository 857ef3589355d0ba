package dev.steadyrun.agent.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.testing.Await;
import dev.steadyrun.agent.testing.ScriptedTrainer;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/** The agent starts the program an assignment names with that program's own command, real child processes. */
class ProgramLaunchTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final ProgramRef MLP = new ProgramRef("mlp", "1.0");

    @TempDir
    Path checkpoints;
    @TempDir
    Path dir;
    private final UUID run = UUID.randomUUID();
    private TrainerSupervisor supervisor;

    @AfterEach
    void tearDown() {
        if (supervisor != null) {
            supervisor.shutdown();
        }
    }

    /** The built-in command cannot start here: a launch that reached it would exit 127 naming it. */
    private void supervisor() {
        supervisor = new TrainerSupervisor(List.of(dir.resolve("no-such-built-in").toString()),
                Map.of(MLP, ScriptedTrainer.command()), checkpoints, Duration.ofSeconds(2), 50, Clock.systemUTC(),
                new ReportBuffer(10_000, 10_000), new LogBuffer(1000), ThreadDumper.forThisJvm(Duration.ofSeconds(1)),
                Duration.ofMillis(100), null);
    }

    private Assignment assignment(long generation, ProgramRef program) {
        return new Assignment(run, 0, 1, generation, Map.of("maxSteps", "3", "checkpointInterval", "2"), null, null,
                "ckpt", RestartKnobs.NONE, null, 0, null, program);
    }

    private TrainerStatus awaitExit(long generation) {
        return Await.until("generation " + generation + " to exit", WAIT, supervisor::status,
                s -> s.state() == TrainerState.EXITED && s.generation() == generation);
    }

    @Test
    void aNamedProgramRunsWithItsOwnCommandAndTheProtocolArguments() {
        supervisor();
        supervisor.apply(DesiredState.RUN, assignment(1, MLP));
        TrainerStatus exited = awaitExit(1);
        assertThat(exited.exitCode()).as(String.join("\n", exited.logTail())).isZero();
        assertThat(exited.lastStep()).isEqualTo(3);
        assertThat(exited.logTail()).anyMatch(l -> l.contains("--checkpoint-dir " + checkpoints.resolve("ckpt"))
                && l.contains("--run-id " + run));
    }

    @Test
    void theBuiltInProgramStillRunsTheTrainerCommand() {
        supervisor();
        supervisor.apply(DesiredState.RUN, assignment(1, null));
        TrainerStatus exited = awaitExit(1);
        assertThat(exited.exitCode()).isEqualTo(127);
        assertThat(String.join("\n", exited.logTail())).contains("no-such-built-in");
    }

    @Test
    void aProgramNotInstalledHereIsAFailedStartNamingIt() {
        supervisor();
        supervisor.apply(DesiredState.RUN, assignment(1, new ProgramRef("mlp", "2.0")));
        TrainerStatus exited = awaitExit(1);
        assertThat(exited.exitCode()).isEqualTo(127);
        assertThat(String.join("\n", exited.logTail())).contains("no program mlp@2.0 installed");
    }
}
