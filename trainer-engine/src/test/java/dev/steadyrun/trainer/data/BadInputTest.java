package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BadInputTest {

    @TempDir
    Path dir;

    private static byte[] gzip(String text) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return bytes.toByteArray();
    }

    private static String jsonLines(String prefix, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append("{\"text\": \"").append(prefix).append(" document ").append(i).append(" with its own words ")
                    .append(i * 31).append("\"}\n");
        }
        return b.toString();
    }

    @Test
    void everyKindOfBadInputIsCountedAndTheJobFinishes() throws IOException {
        Path json = Files.createDirectories(dir.resolve("json"));
        ByteArrayOutputStream mixed = new ByteArrayOutputStream();
        mixed.write("""
                {"text": "a good document"}
                {"body": "no text field"}
                {"text": 42}
                this is not json
                [1, 2, 3]
                {"text": "  \\n\\t "}

                """.getBytes(StandardCharsets.UTF_8));
        mixed.write(new byte[] {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}', '\n'});
        byte[] giant = new byte[50_000];
        Arrays.fill(giant, (byte) 'x');
        mixed.write(giant);
        mixed.write("\n{\"text\": \"the document after the giant line\"}\n".getBytes(StandardCharsets.UTF_8));
        Files.write(json.resolve("a.jsonl"), mixed.toByteArray());

        byte[] whole = gzip(jsonLines("gzipped", 2000));
        Files.write(json.resolve("b-truncated.jsonl.gz"), Arrays.copyOf(whole, whole.length / 2));
        byte[] badTrailer = gzip(jsonLines("trailer", 10));
        badTrailer[badTrailer.length - 6] ^= 0x55;      // the CRC-32 of the uncompressed data
        Files.write(json.resolve("c-bad-crc.jsonl.gz"), badTrailer);

        Path texts = Files.createDirectories(dir.resolve("texts"));
        Files.writeString(texts.resolve("good.txt"), "A whole file is one document.\r\n");
        Files.write(texts.resolve("latin1.txt"), "caf\u00e9".getBytes(StandardCharsets.ISO_8859_1));
        Files.writeString(texts.resolve("empty.txt"), "");
        Files.writeString(texts.resolve("big.txt"), "y".repeat(20_000));
        Files.writeString(texts.resolve(".hidden.txt"), "never read");

        PrepareConfig config = PrepareConfig.defaults(List.of(
                        new SourceSpec("json", json, 1, null, null, true),
                        new SourceSpec("texts", texts, 1, SourceFormat.TEXT, null, true)), dir.resolve("out"))
                .withMaxDocumentBytes(10_000);
        PrepareReport report = new Prepare(config, Clock.systemUTC(), null).run();

        PrepareReport.Source j = report.sources().get(0);
        assertThat(j.files()).isEqualTo(3);
        assertThat(j.badInput()).containsEntry("missing_field", 2L)
                .containsEntry("malformed_json", 2L)
                .containsEntry("empty_document", 2L)
                .containsEntry("invalid_utf8", 1L)
                .containsEntry("oversized_document", 1L)
                .containsEntry("truncated_gzip", 1L)
                .containsEntry("corrupt_gzip", 1L);
        // the truncated file gave up its documents before the cut, the bad-CRC file all ten
        long gzipped = j.documentsKept() - 2 - 10;
        assertThat(gzipped).isBetween(100L, 1999L);

        assertThat(j.bytesIn()).as("the giant line counts in full").isGreaterThan(50_000);

        PrepareReport.Source t = report.sources().get(1);
        assertThat(t.files()).isEqualTo(4);
        assertThat(t.documentsIn()).isEqualTo(4);
        assertThat(t.documentsKept()).isEqualTo(1);
        assertThat(t.badInput()).isEqualTo(Map.of("invalid_utf8", 1L, "empty_document", 1L,
                "oversized_document", 1L));

        assertThat(report.badInput()).containsEntry("invalid_utf8", 2L).containsEntry("oversized_document", 2L);
        try (TokenShards train = TokenShards.open(dir.resolve("out"), "train")) {
            assertThat(train.tokens()).isPositive();
        }
        String reportJson = Files.readString(dir.resolve("out").resolve(PrepareReport.FILE));
        assertThat(reportJson).contains("\"truncated_gzip\" : 1", "\"documentsIn\"");
    }
}
