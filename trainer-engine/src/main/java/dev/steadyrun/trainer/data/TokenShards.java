package dev.steadyrun.trainer.data;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * One split ("train" or "val") of a prepared dataset, memory-mapped read-only. Each shard is a flat array of
 * unsigned 16-bit little-endian token ids ({@link Manifest#DTYPE}); documents follow each other separated by the
 * end-of-text token. {@link #open} checks every shard's size and SHA-256 against the manifest before use.
 */
public final class TokenShards implements AutoCloseable {

    /** A shard is one mapping, and a mapping is limited to 2 GiB. */
    public static final long MAX_SHARD_TOKENS = Integer.MAX_VALUE / 2;

    private final Path dir;
    private final String split;
    private final Manifest manifest;
    private final MappedByteBuffer[] shards;
    private final long[] shardTokens;
    private final long tokens;
    private volatile boolean closed;

    private TokenShards(Path dir, String split, Manifest manifest, MappedByteBuffer[] shards, long[] shardTokens) {
        this.dir = dir;
        this.split = split;
        this.manifest = manifest;
        this.shards = shards;
        this.shardTokens = shardTokens;
        long sum = 0;
        for (long t : shardTokens) {
            sum += t;
        }
        this.tokens = sum;
    }

    public static TokenShards open(Path datasetDir, String split) throws IOException {
        Manifest manifest = Manifest.read(datasetDir);
        Manifest.Split s = manifest.splits().get(split);
        if (s == null) {
            throw new IllegalArgumentException("split '" + split + "' is not in " + datasetDir.resolve(Manifest.FILE)
                    + " (it has " + manifest.splits().keySet() + ")");
        }
        List<Manifest.Shard> list = s.shards();
        MappedByteBuffer[] buffers = new MappedByteBuffer[list.size()];
        long[] counts = new long[list.size()];
        for (int i = 0; i < list.size(); i++) {
            Manifest.Shard shard = list.get(i);
            Path file = datasetDir.resolve(shard.file());
            buffers[i] = mapVerified(file, shard);
            counts[i] = shard.tokens();
        }
        return new TokenShards(datasetDir, split, manifest, buffers, counts);
    }

    private static MappedByteBuffer mapVerified(Path file, Manifest.Shard shard) throws IOException {
        if (shard.tokens() < 0 || shard.tokens() > MAX_SHARD_TOKENS) {
            throw new CorruptShardException(file + ": manifest gives " + shard.tokens() + " tokens, outside 0.."
                    + MAX_SHARD_TOKENS);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long expected = shard.tokens() * 2;
            if (ch.size() != expected) {
                throw new CorruptShardException(file + ": " + ch.size() + " bytes, manifest expects " + expected);
            }
            MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, expected);
            buf.order(ByteOrder.LITTLE_ENDIAN);
            String actual = sha256(buf);
            if (!actual.equalsIgnoreCase(shard.sha256())) {
                throw new CorruptShardException(file + ": SHA-256 " + actual + " does not match the manifest's "
                        + shard.sha256());
            }
            return buf;
        } catch (NoSuchFileException e) {
            throw new CorruptShardException(file + ": shard file listed in the manifest is missing");
        }
    }

    static String sha256(java.nio.ByteBuffer buf) {
        MessageDigest md = sha256();
        md.update(buf.duplicate());
        return HexFormat.of().formatHex(md.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JRE has SHA-256", e);
        }
    }

    public long tokens() {
        return tokens;
    }

    public int shardCount() {
        return shards.length;
    }

    public long shardTokens(int shard) {
        return shardTokens[shard];
    }

    public String split() {
        return split;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** Copies {@code len} token ids starting at token {@code start} of {@code shard} into {@code dst}. */
    public void read(int shard, long start, int[] dst, int dstOffset, int len) {
        checkOpen();
        if (start < 0 || start + len > shardTokens[shard]) {
            throw new IndexOutOfBoundsException("tokens [" + start + ", " + (start + len) + ") outside shard " + shard
                    + " of " + shardTokens[shard] + " tokens");
        }
        MappedByteBuffer buf = shards[shard];
        int at = (int) (start * 2);
        for (int i = 0; i < len; i++, at += 2) {
            dst[dstOffset + i] = Short.toUnsignedInt(buf.getShort(at));
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("TokenShards for " + dir + " (" + split + ") is closed");
        }
    }

    /** Stops further reads; the JDK unmaps the files once the buffers are garbage-collected. */
    @Override
    public void close() {
        closed = true;
    }
}
