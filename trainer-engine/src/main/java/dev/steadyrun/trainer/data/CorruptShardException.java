package dev.steadyrun.trainer.data;

import java.io.IOException;

/** A token shard or manifest that does not match what the manifest promises; the message names the file. */
public final class CorruptShardException extends IOException {

    private static final long serialVersionUID = 1L;

    public CorruptShardException(String message) {
        super(message);
    }
}
