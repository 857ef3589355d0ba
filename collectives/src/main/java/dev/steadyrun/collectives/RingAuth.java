package dev.steadyrun.collectives;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import dev.steadyrun.protocol.RingSecret;

/**
 * Proofs that a peer holds the generation's ring secret: HMAC-SHA256 over who the hello claims to be (run,
 * generation, rank, world size, ring address), which side is proving, and both sides' nonces, so a proof is good
 * for one connection and one direction only. Compared in constant time.
 */
final class RingAuth {
    static final int NONCE_BYTES = 32;
    static final int MAC_BYTES = 32;
    /** The side that accepted the connection proves with this role, the side that connected with {@link #JOINER}. */
    static final byte ACCEPTOR = 'A';
    static final byte JOINER = 'J';

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALGORITHM = "HmacSHA256";

    private RingAuth() {
    }

    static byte[] nonce() {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        return nonce;
    }

    /**
     * @param type           {@link Wire#HELLO} or {@link Wire#RING_HELLO}: a rendezvous proof is no ring proof
     * @param acceptorNonce  the nonce of the side that accepted the connection (rank 0's ring nonce for a ring hello)
     */
    static byte[] proof(RingSecret secret, byte role, byte type, Wire.Hello hello, byte[] acceptorNonce) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream d = new DataOutputStream(bytes)) {
            d.writeUTF("steadyrun-ring");
            d.writeShort(Wire.VERSION);
            d.writeByte(role);
            d.writeByte(type);
            d.writeUTF(hello.runId());
            d.writeLong(hello.generation());
            d.writeInt(hello.rank());
            d.writeInt(hello.worldSize());
            d.writeUTF(hello.host());
            d.writeInt(hello.port());
            d.write(hello.nonce());
            d.write(acceptorNonce);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(secret.bytes(), ALGORITHM));
            return mac.doFinal(bytes.toByteArray());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is part of every Java runtime", e);
        }
    }

    /** Constant time: a mismatch does not tell how many leading bytes were right. */
    static boolean matches(byte[] expected, byte[] got) {
        return MessageDigest.isEqual(expected, got);
    }
}
