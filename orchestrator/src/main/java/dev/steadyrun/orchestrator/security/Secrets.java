package dev.steadyrun.orchestrator.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/** Random bearer secrets and their SHA-256: only hashes are stored, compared in constant time. */
public final class Secrets {

    private static final SecureRandom RANDOM = new SecureRandom();

    private Secrets() {
    }

    /** 256 random bits, URL-safe, with a prefix that says what the secret is for (e.g. {@code srn_} for nodes). */
    public static String generate(String prefix) {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Hashes the secret even when there is nothing to compare it with, so that both cases take as long. */
    public static boolean matches(String secret, byte[] hash) {
        if (secret == null) {
            return false;
        }
        byte[] given = sha256(secret);
        return hash != null && MessageDigest.isEqual(given, hash);
    }
}
