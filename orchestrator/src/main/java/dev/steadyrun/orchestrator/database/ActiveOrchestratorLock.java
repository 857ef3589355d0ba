package dev.steadyrun.orchestrator.database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import javax.sql.DataSource;

import com.zaxxer.hikari.HikariDataSource;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * One active orchestrator per database. Node leases, the detectors and the recovery loop live in the orchestrator's
 * memory, so a second active one on the same database would judge nodes by half of their heartbeats and fail healthy
 * ones. The active orchestrator holds a PostgreSQL session advisory lock on a connection it keeps. One started while
 * another holds it is the <em>standby</em>: it is live but not ready, answers the API with 503 ({@link StandbyGate}),
 * runs no periodic task, and tries the lock every {@code steadyrun.database.lock-check}. When the active one dies its
 * session ends, the lock is free, and the standby takes it: it publishes {@link OrchestratorActivated} (leases,
 * detectors and directives are loaded again from the database, with a fresh grace for every node) and only then
 * serves.
 *
 * <p>The active one checks its connection as often: when it broke (the database restarted, a network cut) the lock
 * is taken again on a new one, and when another orchestrator took it in the meantime this one stops (fail-stop: two
 * active orchestrators are worse than none; its supervisor starts it again, as the standby).
 *
 * <p>Fail closed: the active one serves agents only while a check confirmed the lock within
 * {@code steadyrun.database.lock-confirm-within} ({@link #confirmed()}). A check that fails, or hangs (a one-sided
 * network split: this orchestrator cannot reach the database, a standby can and takes the lock), makes agent
 * endpoints answer 503 until a check confirms the lock again; otherwise this one would keep renewing leases and
 * handing out assignments from memory beside the new holder. That deadline runs on the monotonic {@link LockTicker},
 * not the application's clock. Every statement of a check has a {@value #QUERY_TIMEOUT_SECONDS} s timeout.
 */
@Component
public class ActiveOrchestratorLock implements DisposableBean {

    /** The advisory lock's two keys: "STRN", 1. */
    static final int KEY_CLASS = 0x5354524E;
    static final int KEY_ID = 1;
    /**
     * Advisory locks are per database but pg_locks lists every database's: without this, an orchestrator of another
     * database on the same server would pass for the holder of ours.
     */
    private static final String THIS_DATABASE =
            " and database = (select oid from pg_database where datname = current_database())";
    /** How long one statement of a check may wait for the database. */
    static final int QUERY_TIMEOUT_SECONDS = 2;

    private static final Logger log = LoggerFactory.getLogger(ActiveOrchestratorLock.class);

    /** The lock was confirmed again after a stretch without confirmation: agents are served again from now. */
    public record Reconfirmed() {
    }

    private final DataSource dataSource;
    private final Runnable onLost;
    private final Runnable onActivated;
    private final Runnable onReconfirmed;
    private final LockTicker ticker;
    private final long confirmWithinNanos;
    private final Duration checkEvery;
    private final ScheduledExecutorService checker;
    private Connection held;
    /** The PostgreSQL backend of the session holding the lock (so a broken check can tell its own lock apart). */
    private int heldPid;
    private volatile boolean active;
    /** A standby takes over only once the application is ready to hear {@link OrchestratorActivated}. */
    private volatile boolean mayActivate;
    /** When a check last confirmed the lock ({@link LockTicker} nanoseconds); read by every agent request. */
    private volatile long confirmedAt;
    /** The last check could not confirm the lock: unconfirmed until one does, however recent the last success. */
    private volatile boolean failing;

    @Autowired
    ActiveOrchestratorLock(DataSource dataSource, ConfigurableApplicationContext context, DatabaseProperties props,
                           LockTicker ticker) {
        // on its own thread: closing the context shuts the checker down, which must not interrupt the shutdown
        this(dataSource, () -> new Thread(() -> {
            log.error("Another orchestrator holds the database now; stopping this one");
            System.exit(SpringApplication.exit(context, () -> 75));
        }, "orchestrator-lock-lost").start(), () -> context.publishEvent(new OrchestratorActivated()),
                () -> context.publishEvent(new Reconfirmed()), ticker, props.lockCheck(), props.lockConfirmWithin(),
                false);
    }

    /**
     * @param onActivated   called when a standby took the lock, before it serves; when it throws, the lock is let go
     * @param onReconfirmed called when a check confirms the lock after a stretch in which agents were refused
     * @param mayActivate   false until {@link #applicationReady()} (Spring), true for a lock used on its own
     */
    ActiveOrchestratorLock(DataSource dataSource, Runnable onLost, Runnable onActivated, Runnable onReconfirmed,
                           LockTicker ticker, Duration checkEvery, Duration confirmWithin, boolean mayActivate) {
        this.dataSource = dataSource;
        this.onLost = onLost;
        this.onActivated = onActivated;
        this.onReconfirmed = onReconfirmed;
        this.ticker = ticker;
        this.checkEvery = checkEvery;
        this.confirmWithinNanos = confirmWithin.toNanos();
        this.mayActivate = mayActivate;
        try {
            active = acquire();
        } catch (SQLException e) {
            throw new IllegalStateException("could not take the orchestrator lock: " + e.getMessage(), e);
        }
        confirmedAt = ticker.nanoTime();
        checker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "orchestrator-lock-check");
            t.setDaemon(true);
            return t;
        });
        checker.scheduleWithFixedDelay(this::check, checkEvery.toMillis(), checkEvery.toMillis(),
                TimeUnit.MILLISECONDS);
        if (active) {
            log.info("Active orchestrator for this database (advisory lock {}/{})", KEY_CLASS, KEY_ID);
        } else {
            log.info("Standby: another orchestrator is active on this database ({}); taking over when it stops",
                    holder());
        }
    }

    /** True while this orchestrator holds the lock: it serves agents and the API and runs the periodic tasks. */
    public boolean isActive() {
        return active;
    }

    /**
     * Whether agents may be served: this is the active orchestrator and the last check confirmed the lock within
     * {@code lockConfirmWithin}. Lock-free (a hung check holds this object's monitor).
     */
    public boolean confirmed() {
        return active && !failing && ticker.nanoTime() - confirmedAt <= confirmWithinNanos;
    }

    /** When an agent that was refused for want of confirmation should try again. */
    public Duration retryAfter() {
        return checkEvery;
    }

    @EventListener(ApplicationReadyEvent.class)
    void applicationReady() {
        mayActivate = true;
    }

    /** Takes the lock on a new connection and keeps that connection; false when another session holds it. */
    private synchronized boolean acquire() throws SQLException {
        Connection c = dataSource.getConnection();
        try (PreparedStatement st = c.prepareStatement("select pg_try_advisory_lock(?, ?), pg_backend_pid()")) {
            st.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            st.setInt(1, KEY_CLASS);
            st.setInt(2, KEY_ID);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    held = c;
                    heldPid = rs.getInt(2);
                    return true;
                }
            }
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
        c.close();
        return false;
    }

    /** The backend holding the lock, or 0 when none does. */
    private int holderPid() throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement st = c.prepareStatement("select pid from pg_locks where locktype = 'advisory'"
                     + " and granted and classid = ? and objid = ?" + THIS_DATABASE)) {
            st.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            st.setInt(1, KEY_CLASS);
            st.setInt(2, KEY_ID);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getInt(1) : 0;
            }
        }
    }

    /** The session holding the lock, as PostgreSQL sees it. */
    private String holder() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement st = c.prepareStatement("""
                     select a.pid, coalesce(host(a.client_addr), 'a local socket'), coalesce(a.application_name, ''),
                            a.backend_start from pg_locks l
                     join pg_stat_activity a on a.pid = l.pid
                     where l.locktype = 'advisory' and l.granted and l.classid = ? and l.objid = ?""" + THIS_DATABASE)) {
            st.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            st.setInt(1, KEY_CLASS);
            st.setInt(2, KEY_ID);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? "held by PostgreSQL backend " + rs.getInt(1) + " for " + rs.getString(2)
                        + (rs.getString(3).isEmpty() ? "" : " (" + rs.getString(3) + ")") + " since "
                        + rs.getTimestamp(4).toInstant() : "holder unknown";
            }
        } catch (SQLException e) {
            return "holder unknown: " + e.getMessage();
        }
    }

    /** Called by the checker thread; tests call it directly. */
    synchronized void check() {
        if (!active) {
            if (mayActivate) {
                takeOver();
            }
            return;
        }
        boolean wasConfirmed = confirmed();
        try {
            if (held != null && held.isValid(QUERY_TIMEOUT_SECONDS)) {
                confirm(wasConfirmed);
                return;
            }
            if (held != null && holderPid() == heldPid) {
                // a slow answer on a busy machine, not a broken session: letting go now would hand a standby the lock
                log.warn("The orchestrator lock's connection answered slowly; its session still holds the lock");
                confirm(wasConfirmed);
                return;
            }
            failing = true; // agents wait from here until the lock is surely ours again
            int previous = heldPid;
            closeHeld();
            if (acquire()) {
                log.warn("The orchestrator lock's connection broke; lock taken again");
                confirm(wasConfirmed);
            } else if (holderPid() == previous) {
                // our old session still holds it (the server has not yet seen the connection close): next time
                log.warn("The orchestrator lock's check failed, but this orchestrator's session still holds the lock");
            } else {
                log.error("The orchestrator lock's connection broke and another orchestrator took the lock ({})",
                        holder());
                checker.shutdown();
                onLost.run();
            }
        } catch (SQLException e) {
            // unreachable: nobody here can tell who holds the lock, so agents are not served until a check can
            failing = true;
            log.warn("Cannot check the orchestrator lock; not serving agents until it is confirmed: {}",
                    e.getMessage());
        }
    }

    private void confirm(boolean wasConfirmed) {
        confirmedAt = ticker.nanoTime();
        failing = false;
        if (!wasConfirmed) {
            log.info("The orchestrator lock is confirmed again; serving agents");
            onReconfirmed.run();
        }
    }

    /** A standby tries the lock; with it, it loads what the active one left and starts serving. */
    private void takeOver() {
        try {
            if (!acquire()) {
                return;
            }
        } catch (SQLException e) {
            log.debug("Standby cannot reach the database: {}", e.getMessage());
            return;
        }
        log.warn("The active orchestrator is gone; this standby took the lock and takes over");
        try {
            onActivated.run();
        } catch (RuntimeException e) {
            log.error("Taking over failed; letting the lock go for another try", e);
            unlock();
            return;
        }
        confirmedAt = ticker.nanoTime();
        failing = false;
        active = true;
        log.info("Active orchestrator for this database (advisory lock {}/{})", KEY_CLASS, KEY_ID);
    }

    /** Really closes the lock's connection: returned to a pool, its session (and a lock it held) would live on. */
    private void closeHeld() {
        if (held != null) {
            try {
                if (dataSource instanceof HikariDataSource pool) {
                    pool.evictConnection(held);
                }
                held.close();
            } catch (SQLException e) {
                log.debug("closing the lock connection: {}", e.getMessage());
            }
            held = null;
        }
    }

    @Override
    public synchronized void destroy() {
        checker.shutdownNow();
        active = false;
        unlock();
    }

    private void unlock() {
        if (held != null) {
            // closing the session releases the lock; unlock first so a pooled connection does not keep it
            try (PreparedStatement st = held.prepareStatement("select pg_advisory_unlock(?, ?)")) {
                st.setInt(1, KEY_CLASS);
                st.setInt(2, KEY_ID);
                st.execute();
            } catch (SQLException e) {
                log.debug("unlocking: {}", e.getMessage());
            }
            closeHeld();
        }
    }
}
