package dev.steadyrun.protocol;

import java.security.SecureRandom;
import java.util.Base64;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * The random secret of one generation's ring: the orchestrator draws it when it places the generation, the
 * assignment carries it to each rank's agent, the agent hands it to the trainer in the environment variable
 * {@link #ENV} (not on the command line, which {@code ps} shows), and every hello between the ranks is
 * authenticated with it. In JSON it is a plain base64url string; {@link #toString()} never shows it, so neither
 * does a logged assignment.
 *
 * @param value base64url (no padding) of at least {@link #MIN_BYTES} random bytes
 */
public record RingSecret(@JsonValue String value) {

    /** Where the trainer finds the secret of its ring. */
    public static final String ENV = "STEADYRUN_RING_SECRET";
    /** What the orchestrator draws: 256 bits, the size of an HMAC-SHA256 key. */
    public static final int BYTES = 32;
    /** The least a trainer accepts (a secret set by hand for a ring started without the orchestrator). */
    public static final int MIN_BYTES = 16;

    private static final SecureRandom RANDOM = new SecureRandom();

    @JsonCreator
    public RingSecret {
        byte[] bytes;
        try {
            bytes = value == null ? null : Base64.getUrlDecoder().decode(value);
        } catch (IllegalArgumentException e) {
            bytes = null;
        }
        if (bytes == null || bytes.length < MIN_BYTES) {
            // the value itself stays out of the message
            throw new IllegalArgumentException("ring secret must be base64url of at least " + MIN_BYTES + " bytes");
        }
    }

    public static RingSecret of(byte[] bytes) {
        return new RingSecret(Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
    }

    /** A fresh secret for a new generation. */
    public static RingSecret random() {
        byte[] bytes = new byte[BYTES];
        RANDOM.nextBytes(bytes);
        return of(bytes);
    }

    /**
     * What a trainer reads from {@link #ENV} (or a control-channel assignment): null when unset or blank, and a
     * malformed value is an error naming the variable (never showing the value).
     */
    public static RingSecret fromEnvironment(String value) {
        try {
            return value == null || value.isBlank() ? null : new RingSecret(value.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(ENV + ": " + e.getMessage());
        }
    }

    /** The key bytes (a fresh copy). */
    public byte[] bytes() {
        return Base64.getUrlDecoder().decode(value);
    }

    @Override
    public String toString() {
        return "RingSecret[hidden]";
    }
}
