package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.protocol.ExitCodes;

class PrepareCommandTest {

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        out.reset();
        err.reset();
        return PrepareCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void helpDescribesEveryOption() {
        assertThat(run("--help")).isEqualTo(ExitCodes.OK);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("--source name=PATH", "--europarl", "--out DIR",
                "--val-fraction", "--seed", "--jaccard", "--shard-tokens", "--config");
    }

    @Test
    void badArgumentsNameTheFieldAndExitWithBadConfig() throws IOException {
        Path src = Files.writeString(dir.resolve("a.lines"), "x\n");
        assertThat(run("--source", "a=" + src)).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("--out DIR is required");
        assertThat(run("--out", dir.resolve("o").toString(), "--source", "a=" + src, "--jaccard", "1.5"))
                .isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("jaccard must be in (0, 1]");
        assertThat(run("--out", "o", "--source", "a=" + src + ",weight=lots")).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("weight 'lots' is not a number");
        assertThat(run("--out", "o", "--source", "a=" + dir.resolve("missing"))).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("does not exist");
        assertThat(run("--out", "o", "--source", "a=" + src + ",format=xml")).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("format 'xml' is not one of");
        assertThat(run("--out", "o", "--shard-tokens")).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("--shard-tokens needs a value");
        assertThat(run("--out", "o", "--frobnicate")).isEqualTo(ExitCodes.BAD_CONFIG);
        assertThat(err()).contains("unknown option '--frobnicate'");
        assertThat(Files.exists(Path.of("o"))).isFalse();
    }

    @Test
    void weightsRepeatOrSampleDocumentsAndTheConfigFileWorks() throws IOException {
        StringBuilder body = new StringBuilder();
        StringBuilder plain = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            body.append("{\"id\": ").append(i).append(", \"body\": \"json document ").append(i).append(" of many\"}\n");
            plain.append("plain document ").append(i).append(" of many\n");
        }
        Path twice = Files.writeString(dir.resolve("twice.jsonl"), body);
        Path half = Files.writeString(dir.resolve("half.lines"), plain);
        Path outDir = dir.resolve("out");
        Path config = Files.writeString(dir.resolve("prepare.conf"), """
                # sources and output
                --source twice=%s,weight=2,field=body
                --source half=%s,weight=0.5,format=lines
                --out %s
                --val-fraction 0.1
                --shard-tokens 1000
                """.formatted(twice, half, outDir));

        assertThat(run("--config", config.toString(), "--no-progress")).as(err()).isEqualTo(ExitCodes.OK);

        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(printed).contains("twice", "half", "report.json");
        PrepareReport report = Manifest.JSON.readValue(Files.readString(outDir.resolve(PrepareReport.FILE)),
                PrepareReport.class);
        PrepareReport.Source t = report.sources().get(0);
        PrepareReport.Source h = report.sources().get(1);
        assertThat(t.documentsKept()).isEqualTo(400);
        assertThat(t.documentsWritten()).isEqualTo(800);
        assertThat(h.documentsKept()).isEqualTo(400);
        assertThat(h.documentsWritten() + h.sampledOut()).isEqualTo(400);
        assertThat(h.documentsWritten()).isBetween(150L, 250L);
        Manifest manifest = Manifest.read(outDir);
        assertThat(manifest.splits().get("train").shards()).hasSizeGreaterThan(5);
        long val = manifest.splits().get("val").documents();
        assertThat(val).isBetween(50L, 200L);
        assertThat(manifest.splits().get("train").tokens() + manifest.splits().get("val").tokens())
                .isEqualTo(report.trainTokens() + report.valTokens());

        // the same inputs and seed give the same bytes
        ByteArrayOutputStream ignored = new ByteArrayOutputStream();
        assertThat(PrepareCommand.run(new String[] {"--config", config.toString(), "--force",
                        "--out", dir.resolve("again").toString()}, new PrintStream(ignored), new PrintStream(ignored)))
                .isEqualTo(ExitCodes.OK);
        assertThat(Manifest.read(dir.resolve("again")).splits()).isEqualTo(manifest.splits());
    }
}
