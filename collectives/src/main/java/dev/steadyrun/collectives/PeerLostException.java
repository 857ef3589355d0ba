package dev.steadyrun.collectives;

import java.util.Optional;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.PeerCheck;

/**
 * A peer closed its connection, reset it, or sent nothing within the timeout: the generation must be restarted.
 * After a timeout it carries the rank's check of its ring neighbours, which says which side of the silence is cut off.
 */
public class PeerLostException extends CollectiveException {
    private final transient PeerCheck check;

    public PeerLostException(String message, Throwable cause) {
        this(message, cause, null);
    }

    public PeerLostException(String message, Throwable cause, PeerCheck check) {
        super(ExitCodes.PEER_LOST, message, cause);
        this.check = check;
    }

    public Optional<PeerCheck> check() {
        return Optional.ofNullable(check);
    }
}
