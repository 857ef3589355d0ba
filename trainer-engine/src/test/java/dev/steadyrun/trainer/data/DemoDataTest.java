package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoDataTest {

    @TempDir
    Path dir;

    @Test
    void preparesEuroparlOnceAndReusesItWhileItVerifies() throws IOException {
        Path ds = DemoData.ensurePrepared(dir, 300);
        Manifest m = Manifest.read(ds);
        assertThat(m.splits().get("train").documents() + m.splits().get("val").documents()).isEqualTo(300);
        FileTime written = Files.getLastModifiedTime(ds.resolve(Manifest.FILE));
        try (TokenShards train = TokenShards.open(ds, "train")) {
            int[][] batch = new BatchSampler(train, 1, 2, 64, 0, 1).next();
            assertThat(batch[0]).hasSize(65);
        }

        assertThat(DemoData.ensurePrepared(dir, 300)).isEqualTo(ds);
        assertThat(Files.getLastModifiedTime(ds.resolve(Manifest.FILE))).isEqualTo(written);

        Files.write(ds.resolve("train-00000.bin"), new byte[] {1, 2}, java.nio.file.StandardOpenOption.APPEND);
        DemoData.ensurePrepared(dir, 300);
        try (TokenShards train = TokenShards.open(ds, "train")) {
            assertThat(train.tokens()).isEqualTo(m.splits().get("train").tokens());
        }

        DemoData.ensurePrepared(dir, 200);          // another recipe: prepared again
        Manifest smaller = Manifest.read(ds);
        assertThat(smaller.splits().get("train").documents() + smaller.splits().get("val").documents())
                .isEqualTo(200);
    }

    /** What the ranks of a local run do on a fresh machine: several JVMs prepare the same empty directory at once. */
    @Test
    void processesPreparingTheSameDirectoryAtOnceAllSucceed(@TempDir Path logs) throws Exception {
        java.util.List<Process> preparing = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            preparing.add(new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    System.getProperty("java.class.path"), PrepareOnce.class.getName(), dir.toString())
                    .redirectErrorStream(true).redirectOutput(logs.resolve(i + ".log").toFile()).start());
        }
        for (int i = 0; i < preparing.size(); i++) {
            assertThat(preparing.get(i).waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(preparing.get(i).exitValue()).as("process %d; log %s", i,
                    Files.readString(logs.resolve(i + ".log"))).isZero();
        }
        Manifest m = Manifest.read(dir);
        assertThat(m.splits().get("train").documents() + m.splits().get("val").documents()).isEqualTo(300);
        try (TokenShards train = TokenShards.open(dir, "train")) {   // sizes and checksums verified
            assertThat(train.tokens()).isEqualTo(m.splits().get("train").tokens());
        }
    }

    /** One process's preparation (the test tool of the test above). */
    public static final class PrepareOnce {
        public static void main(String[] args) {
            DemoData.ensurePrepared(Path.of(args[0]), 300);
        }
    }
}
