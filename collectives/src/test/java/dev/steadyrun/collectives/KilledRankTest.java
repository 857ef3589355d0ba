package dev.steadyrun.collectives;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.ExitCodes;

/** Ranks as separate JVMs: one is SIGKILLed in the middle of its all-reduces; the others must exit PEER_LOST. */
class KilledRankTest {
    private static final int WORLD = 3;
    private static final long OPERATION_TIMEOUT_MS = 3000;

    @Test
    void aKilledRankMakesTheOthersExitPeerLostWithinTheTimeout(@TempDir Path dir) throws Exception {
        int port = TestRing.freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<Process> ranks = new ArrayList<>();
        CountDownLatch running = new CountDownLatch(WORLD);
        try {
            for (int r = 0; r < WORLD; r++) {
                Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", classPath,
                        RankProcess.class.getName(), String.valueOf(port), String.valueOf(r), String.valueOf(WORLD),
                        String.valueOf(OPERATION_TIMEOUT_MS))
                        .redirectError(dir.resolve("rank" + r + ".err").toFile()).start();
                ranks.add(p);
                Thread reader = new Thread(() -> {
                    try (BufferedReader out = new BufferedReader(
                            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        boolean counted = false;
                        for (String line; (line = out.readLine()) != null; ) {
                            if (!counted && line.equals("iteration 3")) {
                                running.countDown();
                                counted = true;
                            }
                        }
                    } catch (java.io.IOException ignored) {
                        // the process ended
                    }
                });
                reader.setDaemon(true);
                reader.start();
            }
            assertThat(running.await(60, TimeUnit.SECONDS)).as("all ranks reached iteration 3").isTrue();

            ranks.get(1).destroyForcibly();
            long killedAt = System.nanoTime();
            for (int r : new int[] {0, 2}) {
                Process p = ranks.get(r);
                assertThat(p.waitFor(OPERATION_TIMEOUT_MS + 10_000, TimeUnit.MILLISECONDS))
                        .as("rank %d exited", r).isTrue();
                String err = Files.readString(dir.resolve("rank" + r + ".err"));
                assertThat(p.exitValue()).as("rank %d exit code; stderr: %s", r, err).isEqualTo(ExitCodes.PEER_LOST);
                assertThat(err).contains("rank " + r + "/3").contains("peer lost");
            }
            long millis = (System.nanoTime() - killedAt) / 1_000_000;
            assertThat(millis).as("ms until both survivors exited").isLessThan(OPERATION_TIMEOUT_MS + 10_000);
        } finally {
            for (Process p : ranks) {
                p.destroyForcibly();
            }
        }
    }
}
