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
}
