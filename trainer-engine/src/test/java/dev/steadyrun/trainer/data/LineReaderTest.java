package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class LineReaderTest {

    private static List<String> lines(String text, int max) throws IOException {
        LineReader r = new LineReader(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), max);
        List<String> out = new ArrayList<>();
        for (int len = r.next(); len != LineReader.EOF; len = r.next()) {
            out.add(len == LineReader.OVERSIZED ? "<oversized " + r.oversizedLength() + ">"
                    : new String(r.line(), 0, len, StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void splitsOnLfDropsCrAndKeepsALastLineWithoutNewline() throws IOException {
        assertThat(lines("a\r\nb\n\nc", 100)).containsExactly("a", "b", "", "c");
        assertThat(lines("a\n", 100)).containsExactly("a");
        assertThat(lines("", 100)).isEmpty();
    }

    @Test
    void linesOverTheLimitAreSkippedAcrossBufferBoundaries() throws IOException {
        String giant = "x".repeat(200_000);             // spans several 64 KiB reads
        assertThat(lines("ok\n" + giant + "\nafter\n" + "y".repeat(10) + "\n" + giant, 10))
                .containsExactly("ok", "<oversized 200000>", "after", "yyyyyyyyyy", "<oversized 200000>");
        assertThat(lines("z".repeat(150_000) + "\nend", 200_000)).hasSize(2).endsWith("end");
    }
}
