package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenShardsTest {

    @TempDir
    Path dir;

    private static String doc(int i) {
        return "Document number " + i + " says hello to shard " + i * 7919 % 1000 + ".";
    }

    private Path prepare(int docs, long shardTokens) throws IOException {
        return prepare(docs, shardTokens, 2, "ds");
    }

    private Path prepare(int docs, long shardTokens, int threads, String name) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < docs; i++) {
            lines.append(doc(i)).append('\n');
        }
        Path src = Files.writeString(dir.resolve("docs.lines"), lines);
        Path out = dir.resolve(name);
        PrepareConfig config = PrepareConfig.defaults(List.of(SourceSpec.of("docs", src)), out)
                .withShardTokens(shardTokens).withValFraction(0.2).withThreads(threads).withForce(true);
        new Prepare(config, Clock.systemUTC(), null).run();
        return out;
    }

    @Test
    void shardsRoundTripThroughMemoryMapping() throws IOException {
        Path out = prepare(200, 500);
        Gpt2Tokenizer tok = new Gpt2Tokenizer();
        List<String> decoded = new ArrayList<>();
        long total = 0;
        for (String split : List.of("train", "val")) {
            try (TokenShards shards = TokenShards.open(out, split)) {
                Manifest.Split meta = shards.manifest().splits().get(split);
                assertThat(shards.tokens()).isEqualTo(meta.tokens()).isPositive();
                total += meta.documents();
                List<Integer> all = new ArrayList<>();
                for (int s = 0; s < shards.shardCount(); s++) {
                    assertThat(shards.shardTokens(s)).isLessThanOrEqualTo(500);
                    assertThat(Files.size(out.resolve(meta.shards().get(s).file())))
                            .isEqualTo(2 * shards.shardTokens(s));
                    int[] buf = new int[(int) shards.shardTokens(s)];
                    shards.read(s, 0, buf, 0, buf.length);
                    Arrays.stream(buf).forEach(all::add);
                }
                assertThat(all.get(all.size() - 1)).isEqualTo(Gpt2Tokenizer.EOT);
                int from = 0;
                for (int i = 0; i < all.size(); i++) {
                    if (all.get(i) == Gpt2Tokenizer.EOT) {
                        decoded.add(tok.decode(all.subList(from, i).stream().mapToInt(Integer::intValue).toArray()));
                        from = i + 1;
                    }
                }
            }
        }
        assertThat(total).isEqualTo(200);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            expected.add(doc(i));
        }
        assertThat(decoded).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void theOutputIsTheSameForAnyNumberOfTokenizerThreads() throws IOException {
        Manifest one = Manifest.read(prepare(300, 700, 1, "one"));
        Manifest four = Manifest.read(prepare(300, 700, 4, "four"));
        assertThat(one.splits().get("train").shards()).hasSizeGreaterThan(3);
        assertThat(four.splits()).isEqualTo(one.splits());
    }

    @Test
    void aFlippedByteIsCaughtByTheChecksumAndNamesTheFile() throws IOException {
        Path out = prepare(50, 1_000_000);
        Path shard = out.resolve("train-00000.bin");
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            ch.read(one, 10);
            one.put(0, (byte) (one.get(0) ^ 0x40)).rewind();
            ch.write(one, 10);
        }
        assertThatThrownBy(() -> TokenShards.open(out, "train"))
                .isInstanceOf(CorruptShardException.class)
                .hasMessageContaining("train-00000.bin").hasMessageContaining("SHA-256");
        try (TokenShards val = TokenShards.open(out, "val")) {
            assertThat(val.tokens()).isPositive();
        }
    }

    @Test
    void truncatedOrMissingShardsAndUnknownSplitsAreReported() throws IOException {
        Path out = prepare(50, 1_000_000);
        Path shard = out.resolve("train-00000.bin");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(bytes, bytes.length - 2));
        assertThatThrownBy(() -> TokenShards.open(out, "train")).isInstanceOf(CorruptShardException.class)
                .hasMessageContaining("bytes, manifest expects");
        Files.delete(shard);
        assertThatThrownBy(() -> TokenShards.open(out, "train")).isInstanceOf(CorruptShardException.class)
                .hasMessageContaining("missing");
        assertThatThrownBy(() -> TokenShards.open(out, "test")).hasMessageContaining("split 'test'");
        assertThatThrownBy(() -> TokenShards.open(dir.resolve("nothing"), "train"))
                .hasMessageContaining("manifest");
    }

    @Test
    void preparingTwiceNeedsForce() throws IOException {
        Path out = prepare(10, 1000);
        PrepareConfig again = PrepareConfig.defaults(List.of(SourceSpec.of("docs", dir.resolve("docs.lines"))), out);
        assertThatThrownBy(() -> new Prepare(again, Clock.systemUTC(), null).run())
                .hasMessageContaining("--force");
        new Prepare(again.withForce(true), Clock.systemUTC(), null).run();
        try (TokenShards t = TokenShards.open(out, "train")) {
            assertThat(t.tokens()).isPositive();
        }
    }
}
