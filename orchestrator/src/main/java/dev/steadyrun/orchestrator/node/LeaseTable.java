package dev.steadyrun.orchestrator.node;

import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.annotation.PreDestroy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

import dev.steadyrun.orchestrator.database.ActiveOrchestratorLock;
import dev.steadyrun.orchestrator.database.OrchestratorActivated;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * All nodes' leases in memory. Heartbeats renew them here ({@link #renew}); {@link #flush} writes the renewals of
 * every node that beat since the last flush in ONE batched UPDATE every {@code flushInterval} (a Quartz job), so the
 * heartbeat path opens no transaction. At start the table is loaded from PostgreSQL and every node gets a fresh grace: the orchestrator was
 * down, not the nodes. That grace is counted again from the moment the web server takes requests
 * ({@link #startServing()}), because a slow start must not eat the grace of agents that could not reach us yet; until
 * then the lease sweep judges nobody.
 *
 * <p>The table also knows the fleet's size, so it answers {@link #timingsNow()}: the adaptive heartbeat timings of
 * {@link FleetProperties#timingsFor}, cached until the fleet size changes (the heartbeat path allocates nothing).
 * The size counts live nodes only ({@link #recount}: not FAILED, and heard from at least once): a registration
 * costs nothing until its node really heartbeats, so fake names cannot stretch everyone's lease.
 */
@Component
public class LeaseTable {

    private static final Logger log = LoggerFactory.getLogger(LeaseTable.class);
    private static final TypeReference<List<GpuHealth>> GPU_LIST = new TypeReference<>() {
    };

    private final Map<UUID, LeaseRecord> records = new ConcurrentHashMap<>();
    private final JdbcTemplate jdbc;
    private final ObjectMapper json;
    private final FleetProperties props;
    private final Clock clock;
    private final ActiveOrchestratorLock lock;
    private volatile SizedTimings sized = new SizedTimings(-1, null);
    private volatile boolean serving;
    private volatile int live;

    private record SizedTimings(int fleetSize, LeaseTimings timings) {
    }

    LeaseTable(JdbcTemplate jdbc, ObjectMapper json, FleetProperties props, Clock clock, ActiveOrchestratorLock lock) {
        this.jdbc = jdbc;
        this.lock = lock;
        this.json = json;
        this.props = props;
        this.clock = clock;
        load(clock.instant());
    }

    /**
     * Loads every lease from PostgreSQL, each with a fresh grace from {@code now} ({@link #graceAfterGap}): the
     * orchestrator was down.
     */
    private void load(Instant now) {
        records.clear();
        jdbc.query("select id, state, last_seen_at, last_sequence, gpu_health, trainer_status from node"
                + " where deleted_at is null", rs -> {
            Timestamp seen = rs.getTimestamp(3);
            LeaseRecord r = new LeaseRecord(rs.getObject(1, UUID.class), NodeState.valueOf(rs.getString(2)),
                    seen == null ? null : seen.toInstant(), now, null);
            r.sequence = rs.getLong(4);
            r.gpus = read(rs.getString(5), GPU_LIST);
            r.trainer = read(rs.getString(6), new TypeReference<TrainerStatus>() {
            });
            records.put(r.nodeId, r);
        });
        recount();
        // Before the restart the nodes were told the timings of a fleet this size; judge them by those.
        LeaseTimings restored = timingsNow();
        records.values().forEach(r -> {
            r.timings = restored;
            r.graceFrom = graceAfterGap(r, now);
        });
        log.info("Restored {} node leases; each gets a fresh grace from {} with a {} heartbeat", records.size(), now,
                restored.heartbeatInterval());
    }

    /** A standby took over: the leases are the ones the active orchestrator last wrote, judged from now. */
    @EventListener(OrchestratorActivated.class)
    @Order(Ordered.HIGHEST_PRECEDENCE)
    void activated() {
        load(clock.instant());
    }

    /** The web server takes heartbeats from now on: every lease's grace restarts here. */
    @EventListener(ApplicationReadyEvent.class)
    void startServing() {
        regrace("Taking heartbeats");
        serving = true;
    }

    /**
     * Agents were refused (503) while the database lock could not be confirmed: none could renew its lease, so every
     * lease's grace restarts now, as after a restart of the orchestrator.
     */
    @EventListener(ActiveOrchestratorLock.Reconfirmed.class)
    void resumeServing() {
        regrace("Taking heartbeats again after the database lock was confirmed");
    }

    private void regrace(String what) {
        Instant now = clock.instant();
        records.values().forEach(r -> {
            Instant from = graceAfterGap(r, now);
            if (r.graceFrom.isBefore(from)) {
                r.graceFrom = from;
            }
        });
        log.info("{}; the {} leases count their grace from {} plus the agents' longest retry wait", what,
                records.size(), now);
    }

    /**
     * Where a lease counts from after a gap in which no agent could reach us: {@code now} plus the longest wait
     * between an agent's retries ({@link LeaseTimings#backoffMax()}, which is one lease). An agent refused just
     * before {@code now} tries again only that much later, so a grace of one lease from {@code now} would judge
     * some nodes SUSPECT (and restart their runs) for the gap itself. A node heard from is judged by its heartbeats
     * again ({@link #renew}).
     */
    private static Instant graceAfterGap(LeaseRecord r, Instant now) {
        return r.timings == null ? now : now.plus(r.timings.backoffMax());
    }

    /**
     * False until the web server takes requests, and while agents are refused for want of the database lock: no node
     * can have reached us, so none may be judged silent.
     */
    public boolean isServing() {
        return serving && lock.confirmed();
    }

    public LeaseRecord get(UUID nodeId) {
        return records.get(nodeId);
    }

    public Collection<LeaseRecord> all() {
        return records.values();
    }

    void put(LeaseRecord record) {
        records.put(record.nodeId, record);
    }

    void remove(UUID nodeId) {
        records.remove(nodeId);
    }

    /**
     * Counts the live nodes (not FAILED, heard from at least once), the fleet size of {@link #timingsNow()}. Run by
     * every lease sweep, so the heartbeat path never walks the table.
     */
    void recount() {
        int n = 0;
        for (LeaseRecord r : records.values()) {
            if (r.state.watched() && r.lastSeen != null) {
                n++;
            }
        }
        live = n;
    }

    /** The live nodes at the last {@link #recount}. */
    int liveNodes() {
        return live;
    }

    /**
     * A heartbeat renews the node's lease: last seen now, the health and trainer status it carried, the timings it is
     * judged by from now on, and (for a degraded GPU) until when it stays SUSPECT while it heartbeats.
     */
    void renew(LeaseRecord r, long sequence, List<GpuHealth> gpus, TrainerStatus trainer, LeaseTimings timings,
               Instant now, Instant degradedUntil) {
        r.lastSeen = now;
        if (r.graceFrom.isAfter(now)) {
            r.graceFrom = now; // heard from after a gap: judged by its heartbeats again, not by the gap's grace
        }
        r.sequence = sequence;
        r.gpus = gpus;
        r.trainer = trainer;
        r.timings = timings; // before the answer leaves: from now on the node is judged by these
        if (degradedUntil != null) {
            r.degradedUntil = degradedUntil;
        }
        r.dirty.set(true);
    }

    /** The timings to hand out now, for the current fleet size (live nodes). */
    public LeaseTimings timingsNow() {
        int fleet = live;
        SizedTimings s = sized;
        if (s.fleetSize() != fleet) {
            s = new SizedTimings(fleet, props.timingsFor(fleet));
            sized = s; // a racing writer stores an equally valid answer
        }
        return s.timings();
    }

    /**
     * Writes every renewal since the previous flush in one batch; returns how many nodes were written. Serialized, so
     * a caller that flushes finds on return what the background flusher took before it already written.
     */
    public synchronized int flush() {
        List<Object[]> rows = new ArrayList<>();
        List<LeaseRecord> written = new ArrayList<>();
        for (LeaseRecord r : records.values()) {
            if (r.dirty.compareAndSet(true, false)) {
                written.add(r);
                Instant seen = r.lastSeen;
                rows.add(new Object[] {seen == null ? null : Timestamp.from(seen), r.sequence,
                        r.gpus == null ? null : json.writeValueAsString(r.gpus),
                        r.trainer == null ? null : json.writeValueAsString(r.trainer), r.nodeId});
            }
        }
        if (!rows.isEmpty()) {
            try {
                jdbc.batchUpdate("update node set last_seen_at = ?, last_sequence = ?, gpu_health = ?,"
                        + " trainer_status = ? where id = ?", rows);
            } catch (RuntimeException e) {
                written.forEach(r -> r.dirty.set(true)); // retried by the next flush
                throw e;
            }
        }
        return rows.size();
    }

    private <T> T read(String text, TypeReference<T> type) {
        return text == null ? null : json.readValue(text, type);
    }

    /** The periodic flush (FleetJobs): a failure keeps the renewals in memory for the next one. */
    void flushQuietly() {
        try {
            flush();
        } catch (RuntimeException e) {
            // Renewals stay in memory and are retried next time; the database may be briefly away.
            log.warn("Lease flush failed: {}", e.getMessage());
        }
    }

    /** The renewals since the last flush are written before the orchestrator stops. */
    @PreDestroy
    void flushOnShutdown() {
        flushQuietly();
    }
}
