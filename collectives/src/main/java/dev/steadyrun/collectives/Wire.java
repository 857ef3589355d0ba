package dev.steadyrun.collectives;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import dev.steadyrun.protocol.ExitCodes;

/** Constants and encodings of the collective protocol (see docs/distributed.md). */
final class Wire {
    /** "SRDC": Steadyrun data-parallel collectives. */
    static final int MAGIC = 0x53524443;
    /** 2: hellos carry a nonce and are authenticated with the generation's ring secret. */
    static final short VERSION = 2;

    static final byte HELLO = 1;
    static final byte WELCOME = 2;
    static final byte REFUSE = 3;
    static final byte RING_HELLO = 4;
    static final byte DATA = 5;
    /** Rank 0's answer to a hello: its nonce and its proof ({@link RingAuth}); the joiner answers with PROOF. */
    static final byte CHALLENGE = 6;
    static final byte PROOF = 7;

    /** Data frame header: magic, generation, sequence number, type, payload bytes. */
    static final int HEADER_BYTES = 4 + 8 + 8 + 1 + 4;

    private Wire() {
    }

    /** Control messages start with magic, version and type; a stray or foreign connection fails here. */
    static void writeStart(DataOutputStream out, byte type) throws IOException {
        out.writeInt(MAGIC);
        out.writeShort(VERSION);
        out.writeByte(type);
    }

    static byte readStart(DataInputStream in) throws IOException {
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IOException("not a steadyrun collective peer (magic 0x" + Integer.toHexString(magic) + ")");
        }
        short version = in.readShort();
        if (version != VERSION) {
            throw new IOException("protocol version " + version + ", this rank speaks " + VERSION);
        }
        return in.readByte();
    }

    /**
     * Rendezvous hello ({@link #HELLO}) and ring hello ({@link #RING_HELLO}, no address): what the sender claims to
     * be, and its nonce. Nothing in it counts before the sender proved it holds the ring secret.
     */
    record Hello(String runId, long generation, int rank, int worldSize, String host, int port, byte[] nonce) {

        /** Run ids (UUIDs), host names and IPv4/IPv6 addresses. */
        private static final java.util.regex.Pattern PLAIN = java.util.regex.Pattern.compile("[A-Za-z0-9._:%-]{1,253}");
        void write(DataOutputStream out, byte type) throws IOException {
            writeStart(out, type);
            out.writeUTF(runId);
            out.writeLong(generation);
            out.writeInt(rank);
            out.writeInt(worldSize);
            out.writeUTF(host);
            out.writeInt(port);
            out.write(nonce);
            out.flush();
        }

        static Hello read(DataInputStream in, byte expectedType) throws IOException {
            byte type = readStart(in);
            if (type != expectedType) {
                throw new IOException("expected message type " + expectedType + ", got " + type);
            }
            Hello hello = new Hello(in.readUTF(), in.readLong(), in.readInt(), in.readInt(), in.readUTF(), in.readInt(),
                    readBytes(in, RingAuth.NONCE_BYTES));
            // anyone can connect and say anything: what rank 0 logs or dials must be a plain name, not a log line (a
            // ring hello names no host)
            if (!PLAIN.matcher(hello.runId).matches()
                    || !(hello.host.isEmpty() && expectedType == RING_HELLO) && !PLAIN.matcher(hello.host).matches()) {
                throw new IOException("a hello whose run id or host is not a plain name");
            }
            return hello;
        }

        @Override
        public String toString() {
            return "hello of rank " + rank + "/" + worldSize + ", generation " + generation + ", run " + runId;
        }
    }

    static void writeChallenge(DataOutputStream out, byte[] nonce, byte[] proof) throws IOException {
        writeStart(out, CHALLENGE);
        out.write(nonce);
        out.write(proof);
        out.flush();
    }

    static void writeProof(DataOutputStream out, byte[] proof) throws IOException {
        writeStart(out, PROOF);
        out.write(proof);
        out.flush();
    }

    static byte[] readProof(DataInputStream in) throws IOException {
        byte type = readStart(in);
        if (type != PROOF) {
            throw new IOException("expected a proof, got message type " + type);
        }
        return readBytes(in, RingAuth.MAC_BYTES);
    }

    static byte[] readBytes(DataInputStream in, int n) throws IOException {
        byte[] bytes = new byte[n];
        in.readFully(bytes);
        return bytes;
    }

    static void writeRefuse(DataOutputStream out, int exitCode, String message) throws IOException {
        writeStart(out, REFUSE);
        out.writeInt(exitCode);
        out.writeUTF(message);
        out.flush();
    }

    static void writeHeader(ByteBuffer frame, long generation, long seq, int payloadBytes) {
        frame.clear().order(ByteOrder.BIG_ENDIAN)
                .putInt(MAGIC).putLong(generation).putLong(seq).put(DATA).putInt(payloadBytes);
    }

    /** What is wrong with a received data header, and the exit code it calls for. */
    record HeaderProblem(int exitCode, String message) {
    }

    /** Checks a received data header against what this rank expects next; null when it is the expected one. */
    static HeaderProblem checkHeader(ByteBuffer header, long generation, long seq, int payloadBytes) {
        ByteBuffer b = header.duplicate().clear().order(ByteOrder.BIG_ENDIAN);
        int magic = b.getInt();
        long gen = b.getLong();
        long s = b.getLong();
        byte type = b.get();
        int bytes = b.getInt();
        if (magic != MAGIC || type != DATA) {
            return new HeaderProblem(ExitCodes.PEER_LOST,
                    "corrupt frame header (magic 0x" + Integer.toHexString(magic) + ", type " + type + ")");
        }
        if (gen != generation) {
            return new HeaderProblem(ExitCodes.STALE_GENERATION,
                    "frame of generation " + gen + " on a generation " + generation + " ring");
        }
        if (s != seq || bytes != payloadBytes) {
            return new HeaderProblem(ExitCodes.PEER_LOST, "out-of-step frame: got seq " + s + " with " + bytes
                    + " bytes, expected seq " + seq + " with " + payloadBytes
                    + " bytes (the ranks called different collectives)");
        }
        return null;
    }
}
