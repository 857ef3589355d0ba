package dev.steadyrun.orchestrator.security;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.database.OrchestratorActivated;

/**
 * The credential hashes of all nodes, in memory so that a heartbeat costs no query to authenticate. Loaded
 * from the node table at start; the node registry puts a node's new hash when it (re-)registers.
 */
@Component
public class NodeCredentials {

    private final Map<UUID, byte[]> hashes = new ConcurrentHashMap<>();

    private final JdbcTemplate jdbc;

    NodeCredentials(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
        load();
    }

    private void load() {
        hashes.clear();
        jdbc.query("select id, credential_hash from node where deleted_at is null", rs -> {
            hashes.put(rs.getObject(1, UUID.class), rs.getBytes(2));
        });
    }

    /** A standby took over: nodes registered with the active orchestrator meanwhile. */
    @EventListener(OrchestratorActivated.class)
    @Order(Ordered.HIGHEST_PRECEDENCE)
    void activated() {
        load();
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
