package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Writes one split as shards of at most {@code shardTokens} uint16 little-endian token ids, named
 * {@code <split>-00000.bin}, hashing each with SHA-256 as it goes. A document may continue into the next shard.
 */
final class ShardWriter implements AutoCloseable {

    private final Path dir;
    private final String split;
    private final long shardTokens;
    private final ByteBuffer buffer = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private final List<Manifest.Shard> done = new ArrayList<>();
    private FileChannel channel;
    private MessageDigest digest;
    private long inShard;
    private long tokens;
    private long documents;

    ShardWriter(Path dir, String split, long shardTokens) {
        this.dir = dir;
        this.split = split;
        this.shardTokens = shardTokens;
    }

    /** Appends a document's tokens followed by {@link Gpt2Tokenizer#EOT}. */
    void writeDocument(int[] tokens) throws IOException {
        for (int t : tokens) {
            put(t);
        }
        put(Gpt2Tokenizer.EOT);
        documents++;
    }

    private void put(int token) throws IOException {
        if (channel == null) {
            channel = FileChannel.open(dir.resolve(fileName(done.size())), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
            digest = TokenShards.sha256();
            inShard = 0;
        }
        if (!buffer.hasRemaining()) {
            flush();
        }
        buffer.putShort((short) token);
        inShard++;
        tokens++;
        if (inShard == shardTokens) {
            finishShard();
        }
    }

    private String fileName(int index) {
        return String.format("%s-%05d.bin", split, index);
    }

    private void flush() throws IOException {
        buffer.flip();
        digest.update(buffer.duplicate());
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    private void finishShard() throws IOException {
        flush();
        channel.force(true);
        channel.close();
        channel = null;
        done.add(new Manifest.Shard(fileName(done.size()), inShard,
                HexFormat.of().formatHex(digest.digest())));
    }

    long tokens() {
        return tokens;
    }

    /** Closes the open shard and describes the split for the manifest. */
    Manifest.Split finish() throws IOException {
        if (channel != null) {
            finishShard();
        }
        return new Manifest.Split(tokens, documents, List.copyOf(done));
    }

    /** Closes without describing (on failure); the files stay, but no manifest will list them. */
    @Override
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
            channel = null;
        }
    }
}
