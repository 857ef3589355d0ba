package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Test tool: writes a "train" split whose token at global position p is p, so every window names its origin. */
final class TestDatasets {

    private TestDatasets() {
    }

    static Path positional(Path dir, int... shardTokens) throws IOException {
        Files.createDirectories(dir);
        List<Manifest.Shard> shards = new ArrayList<>();
        int next = 0;
        long total = 0;
        for (int s = 0; s < shardTokens.length; s++) {
            ByteBuffer buf = ByteBuffer.allocate(shardTokens[s] * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < shardTokens[s]; i++) {
                buf.putShort((short) next++);
            }
            buf.flip();
            String name = String.format("train-%05d.bin", s);
            Files.write(dir.resolve(name), buf.array());
            shards.add(new Manifest.Shard(name, shardTokens[s], TokenShards.sha256(buf)));
            total += shardTokens[s];
        }
        new Manifest(Manifest.VERSION, Gpt2Tokenizer.NAME, Manifest.DTYPE, Gpt2Tokenizer.EOT,
                Gpt2Tokenizer.VOCAB_SIZE, "positional test data",
                Map.of("train", new Manifest.Split(total, 0, shards))).write(dir);
        return dir;
    }
}
