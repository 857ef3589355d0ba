package dev.steadyrun.trainer.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kills a real writer process with SIGKILL while it writes checkpoints, then checks what survives. */
class CheckpointCrashTest {

    @TempDir
    Path root;

    @Test
    void aKilledWriterLeavesOnlyCompleteCheckpointsAndTempDirectories() throws Exception {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "-Xmx256m", "-cp", classPath,
                CrashingCheckpointWriter.class.getName(), root.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        long lastStep = 0;
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; lastStep < 3 && (line = out.readLine()) != null; ) {
                lastStep = Long.parseLong(line.trim());
            }
            assertThat(lastStep).as("the writer finished a few checkpoints").isGreaterThanOrEqualTo(3);
            // Kill it in the middle of the next write (or, rarely, just after it): its temp directory is there.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            boolean writing = false;
            while (!writing && System.nanoTime() < deadline) {
                Thread.sleep(1);
                writing = writeInProgress();
            }
            assertThat(writing).as("saw a write in progress").isTrue();
            child.destroyForcibly(); // SIGKILL: no shutdown hooks, no close()
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            child.destroyForcibly();
        }

        // Before any store opens: whatever is complete verifies; an interrupted write is only a .tmp-* directory.
        List<Path> complete = stepDirectories();
        assertThat(complete).isNotEmpty();
        for (Path dir : complete) {
            assertThat(Files.exists(dir.resolve("manifest.json"))).as(dir.toString()).isTrue();
            CheckpointStore.verify(dir);
        }
        Path latest = CheckpointStore.latestValid(root).orElseThrow();
        assertThat(Long.parseLong(latest.getFileName().toString().substring(5))).isGreaterThanOrEqualTo(lastStep);
        assertThat(CheckpointStore.load(latest).stateJson()).startsWith("{\"step\":");

        try (CheckpointStore reopened = new CheckpointStore(root, new Retention(2, 0))) {
            assertThat(reopened.list()).isEqualTo(complete);
        }
        try (Stream<Path> entries = Files.list(root)) {
            assertThat(entries.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".tmp-"));
        }
    }

    private boolean writeInProgress() throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.map(p -> p.getFileName().toString())
                    .anyMatch(n -> n.startsWith(".tmp-step-") && !n.contains("-deleted-"));
        }
    }

    private List<Path> stepDirectories() throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().toList();
        }
    }
}
