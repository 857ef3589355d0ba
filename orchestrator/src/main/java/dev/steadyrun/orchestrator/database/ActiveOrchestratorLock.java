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
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.stereotype.Component;

/**
 * One orchestrator per database. Node leases, the detectors and the recovery loop live in the orchestrator's memory,
 * so a second one on the same database would judge nodes by half of their heartbeats and fail healthy ones. At
 * start this takes a PostgreSQL session advisory lock on a connection it keeps; a second orchestrator fails to start
 * with a message naming the holder. Every {@code lockCheckInterval} the lock is confirmed on that connection: when it
 * broke (the database restarted, a network cut) the lock is taken again on a new one, and when another orchestrator
 * took it in the meantime this one stops (fail-stop: two active orchestrators are worse than none).
 *
 * <p>Fail closed: agents are served only while the lock was confirmed within {@code lockConfirmWithin}
 * ({@link #confirmed()}). A check that fails, or hangs (a one-sided network split: this orchestrator cannot reach the
 * database, another one can and takes the lock), makes agent endpoints answer 503 until a check confirms the lock
 * again; otherwise this one would keep renewing leases and handing out assignments from memory beside the new holder.
 * Time here is the monotonic {@link LockTicker}, not the application's clock.
 */
@Component
public class ActiveOrchestratorLock implements DisposableBean {

    /** The advisory lock's two keys: "STRN", 1. */
    static final int KEY_CLASS = 0x5354524E;
    static final int KEY_ID = 1;
    /** How long one statement of a check may wait for the database. */
    static final int QUERY_TIMEOUT_SECONDS = 2;

    private static final Logger log = LoggerFactory.getLogger(ActiveOrchestratorLock.class);

    /** The lock was confirmed again after a stretch without confirmation: agents are served again from now. */
    public record Reconfirmed() {
    }

    private final DataSource dataSource;
    private final LockTicker ticker;
    private final long confirmWithinNanos;
    private final Duration checkInterval;
    private final Runnable onLost;
    private final Runnable onReconfirmed;
    private final ScheduledExecutorService checker;
    private Connection held;
    /** The PostgreSQL backend of the session holding the lock (so a broken check can tell its own lock apart). */
    private int heldPid;
    /** When a check last confirmed the lock ({@link LockTicker} nanoseconds); read by every agent request. */
    private volatile long confirmedAt;
    /** The last check could not confirm the lock: unconfirmed until one does, however recent the last success. */
    private volatile boolean failing;

    @Autowired
    ActiveOrchestratorLock(DataSource dataSource, ConfigurableApplicationContext context, DatabaseProperties props,
                           LockTicker ticker) {
        // on its own thread: closing the context shuts the checker down, which must not interrupt the shutdown
        this(dataSource, ticker, props.lockCheckInterval(), props.lockConfirmWithin(), () -> new Thread(() -> {
            log.error("Another orchestrator holds the database now; stopping this one");
            System.exit(SpringApplication.exit(context, () -> 75));
        }, "orchestrator-lock-lost").start(), () -> context.publishEvent(new Reconfirmed()));
    }

    ActiveOrchestratorLock(DataSource dataSource, LockTicker ticker, Duration checkInterval, Duration confirmWithin,
                           Runnable onLost, Runnable onReconfirmed) {
        this.dataSource = dataSource;
        this.ticker = ticker;
        this.checkInterval = checkInterval;
        this.confirmWithinNanos = confirmWithin.toNanos();
        this.onLost = onLost;
        this.onReconfirmed = onReconfirmed;
        try {
            if (!acquire()) {
                throw new IllegalStateException("another orchestrator is active on this database (" + holder()
                        + "); only one may run per database, so this one does not start");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not take the orchestrator lock: " + e.getMessage(), e);
        }
        confirmedAt = ticker.nanoTime();
        checker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "orchestrator-lock-check");
            t.setDaemon(true);
            return t;
        });
        checker.scheduleWithFixedDelay(this::check, checkInterval.toMillis(), checkInterval.toMillis(),
                TimeUnit.MILLISECONDS);
        log.info("Active orchestrator for this database (advisory lock {}/{})", KEY_CLASS, KEY_ID);
    }

    /**
     * Whether agents may be served: the last check confirmed the lock, within {@code lockConfirmWithin}. Lock-free
     * (a hung check holds this object's monitor).
     */
    public boolean confirmed() {
        return !failing && ticker.nanoTime() - confirmedAt <= confirmWithinNanos;
    }

    /** When an agent that was refused for want of confirmation should try again. */
    public Duration retryAfter() {
        return checkInterval;
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
                     + " and granted and classid = ? and objid = ?")) {
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
                     where l.locktype = 'advisory' and l.granted and l.classid = ? and l.objid = ?""")) {
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
        boolean wasConfirmed = confirmed();
        try {
            if (held != null && stillHeld()) {
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
                log.warn("The orchestrator lock's connection broke, and its old session still holds the lock");
            } else {
                log.error("The orchestrator lock's connection broke and another orchestrator took the lock ({})",
                        holder());
                checker.shutdown();
                onLost.run();
            }
        } catch (SQLException e) {
            // unreachable: nobody can be sure who holds the lock, so agents are not served until a check can tell
            failing = true;
            log.warn("Cannot check the orchestrator lock; not serving agents until it is confirmed: {}",
                    e.getMessage());
        }
    }

    /** Asks, on the lock's own connection and with a deadline, whether its session still holds the lock. */
    private boolean stillHeld() {
        try (PreparedStatement st = held.prepareStatement("select exists (select 1 from pg_locks where"
                + " pid = pg_backend_pid() and locktype = 'advisory' and granted and classid = ? and objid = ?)")) {
            st.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            st.setInt(1, KEY_CLASS);
            st.setInt(2, KEY_ID);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        } catch (SQLException e) {
            log.debug("the lock's connection failed its check: {}", e.getMessage());
            return false;
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
