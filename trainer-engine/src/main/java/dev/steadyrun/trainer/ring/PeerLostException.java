package dev.steadyrun.trainer.ring;

import dev.steadyrun.protocol.ExitCodes;

/** A peer closed its connection, reset it, or sent nothing within the timeout: the generation must be restarted. */
public class PeerLostException extends CollectiveException {
    public PeerLostException(String message, Throwable cause) {
        super(ExitCodes.PEER_LOST, message, cause);
    }
}
