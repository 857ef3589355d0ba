package dev.steadyrun.orchestrator.security;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * The credential hashes of all nodes, in memory so that a heartbeat costs no query to authenticate. Loaded
 * from the node table at start; the node registry puts a node's new hash when it (re-)registers.
 */
@Component
public class NodeCredentials {

    private final Map<UUID, byte[]> hashes = new ConcurrentHashMap<>();

    NodeCredentials(JdbcTemplate jdbc) {
        jdbc.query("select id, credential_hash from node where deleted_at is null",
                rs -> {
                    hashes.put(rs.getObject(1, UUID.class), rs.getBytes(2));
                });
    }

    public void put(UUID nodeId, byte[] hash) {
        hashes.put(nodeId, hash);
    }

    /** The node was deleted: its credential opens nothing any more. */
    public void remove(UUID nodeId) {
        hashes.remove(nodeId);
    }

    public boolean matches(UUID nodeId, String credential) {
        return Secrets.matches(credential, hashes.get(nodeId));
    }
}
