package dev.steadyrun.orchestrator.alert;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.UUID;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.web.ConflictException;

/**
 * Keeps webhook signing secrets encrypted at rest. Signing needs the plaintext, so a hash (as for API tokens) will
 * not do: secrets are sealed with AES-GCM under {@code steadyrun.alerts.secret-key}, bound to their subscription id
 * (associated data) so a ciphertext copied onto another row does not open.
 */
@Component
class SecretBox {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;

    private final SecretKeySpec key;

    SecretBox(AlertProperties props) {
        this.key = props.secretKey() == null || props.secretKey().isBlank() ? null : parseKey(props.secretKey());
    }

    private static SecretKeySpec parseKey(String base64) {
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("steadyrun.alerts.secret-key is not valid base64");
        }
        if (bytes.length != 16 && bytes.length != 24 && bytes.length != 32) {
            throw new IllegalArgumentException(
                    "steadyrun.alerts.secret-key must be base64 of 16, 24 or 32 bytes, got " + bytes.length);
        }
        return new SecretKeySpec(bytes, "AES");
    }

    /** Fails with 409 on the API when no key is configured, before anything is stored. */
    void requireKey() {
        if (key == null) {
            throw new ConflictException("webhooks need steadyrun.alerts.secret-key (base64 of 32 random bytes) "
                    + "to encrypt their signing secrets; it is not configured");
        }
    }

    byte[] seal(String secret, UUID subscriptionId) {
        requireKey();
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        byte[] sealed = crypt(Cipher.ENCRYPT_MODE, nonce, subscriptionId, secret.getBytes(StandardCharsets.UTF_8));
        return ByteBuffer.allocate(NONCE_BYTES + sealed.length).put(nonce).put(sealed).array();
    }

    String open(byte[] sealed, UUID subscriptionId) {
        if (key == null) {
            throw new IllegalStateException("steadyrun.alerts.secret-key is not configured: cannot sign deliveries");
        }
        ByteBuffer buf = ByteBuffer.wrap(sealed);
        byte[] nonce = new byte[NONCE_BYTES];
        buf.get(nonce);
        byte[] rest = new byte[buf.remaining()];
        buf.get(rest);
        return new String(crypt(Cipher.DECRYPT_MODE, nonce, subscriptionId, rest), StandardCharsets.UTF_8);
    }

    private byte[] crypt(int mode, byte[] nonce, UUID subscriptionId, byte[] input) {
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(mode, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(subscriptionId.toString().getBytes(StandardCharsets.US_ASCII));
            return cipher.doFinal(input);
        } catch (GeneralSecurityException e) {
            // never include the input: it is a secret
            throw new IllegalStateException("webhook secret " + (mode == Cipher.ENCRYPT_MODE ? "sealing" : "opening")
                    + " failed for subscription " + subscriptionId + " (was steadyrun.alerts.secret-key changed?)");
        }
    }
}
