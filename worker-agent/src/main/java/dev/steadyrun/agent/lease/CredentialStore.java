package dev.steadyrun.agent.lease;

import java.util.Optional;

/**
 * Where an agent keeps its node credential. The orchestrator lets an existing node name re-join only with that
 * node's credential, so an agent that restarts must still have it: the real agent keeps it in a file
 * ({@link CredentialFile}); the simulated fleet, whose nodes live as long as the JVM, in memory.
 */
public interface CredentialStore {

    /** The credential of this node, if it has one. */
    Optional<String> load();

    /** Keeps the credential the orchestrator answered. */
    void save(String credential);

    /** A store that forgets everything with the JVM. */
    static CredentialStore inMemory() {
        return new CredentialStore() {
            private volatile String credential;

            @Override
            public Optional<String> load() {
                return Optional.ofNullable(credential);
            }

            @Override
            public void save(String c) {
                credential = c;
            }
        };
    }
}
