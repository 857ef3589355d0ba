package dev.steadyrun.orchestrator.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import javax.sql.DataSource;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.datasource.DelegatingDataSource;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;
import dev.steadyrun.orchestrator.StepTicker;

/**
 * The one-active-orchestrator-per-database lock, on a database of its own (the shared test context holds the lock of
 * the test database): a second orchestrator is a standby that takes over when the first lets go; a broken lock
 * connection is replaced; a lock taken by another session while the connection was broken stops this orchestrator.
 * The checkers run once an hour: the tests call {@code check()} themselves.
 */
class ActiveOrchestratorLockTest extends OrchestratorIntegrationTest {

    private DriverManagerDataSource other;
    private final AtomicInteger lost = new AtomicInteger();
    private final AtomicInteger activated = new AtomicInteger();
    private ActiveOrchestratorLock first;
    private ActiveOrchestratorLock second;

    private final AtomicInteger reconfirmed = new AtomicInteger();
    private final StepTicker ticker = new StepTicker();

    private ActiveOrchestratorLock lock(Runnable onActivated) {
        return lock(other, onActivated);
    }

    private ActiveOrchestratorLock lock(DataSource dataSource, Runnable onActivated) {
        return new ActiveOrchestratorLock(dataSource, lost::incrementAndGet, onActivated, reconfirmed::incrementAndGet,
                ticker, Duration.ofHours(1), Duration.ofSeconds(10), true);
    }

    @BeforeEach
    void otherDatabase() {
        String name = jdbc.queryForObject("select current_database()", String.class) + "_lock";
        if (jdbc.queryForList("select 1 from pg_database where datname = ?", name).isEmpty()) {
            jdbc.execute("create database \"" + name + "\"");
        }
        String url = jdbc.queryForObject("select 'jdbc:postgresql://127.0.0.1:' || current_setting('port') || '/'",
                String.class) + name;
        other = new DriverManagerDataSource(url, "postgres", "");
    }

    @AfterEach
    void release() {
        for (ActiveOrchestratorLock lock : new ActiveOrchestratorLock[] {first, second}) {
            if (lock != null) {
                lock.destroy();
            }
        }
    }

    @Test
    void aSecondOrchestratorStandsByAndTakesOverWhenTheFirstLetsGo() {
        first = lock(activated::incrementAndGet);
        second = lock(activated::incrementAndGet);
        assertThat(first.isActive()).isTrue();
        assertThat(second.isActive()).as("the lock is held: a standby").isFalse();
        second.check();
        assertThat(second.isActive()).isFalse();
        assertThat(activated).as("the first was active from its start, the standby not yet").hasValue(0);

        first.destroy(); // a dead process's session ends just the same
        second.check();
        assertThat(second.isActive()).isTrue();
        assertThat(activated).as("loaded again before serving").hasValue(1);
        assertThat(lost).hasValue(0);
    }

    @Test
    void aTakeOverThatFailsLetsTheLockGoAndTriesAgain() {
        first = lock(() -> { });
        second = lock(() -> {
            if (activated.incrementAndGet() == 1) {
                throw new IllegalStateException("database half-read");
            }
        });
        first.destroy();
        second.check();
        assertThat(second.isActive()).isFalse();
        first = lock(() -> { });
        assertThat(first.isActive()).as("the failed standby let the lock go").isTrue();
        first.destroy();
        second.check();
        assertThat(second.isActive()).isTrue();
        assertThat(activated).hasValue(2);
    }

    @Test
    void aBrokenConnectionIsReplacedAndALockTakenMeanwhileStopsThisOrchestrator() throws Exception {
        first = lock(() -> { });
        terminateHolder();
        first.check();
        assertThat(lost).as("nobody else took it: taken again").hasValue(0);
        second = lock(() -> { });
        assertThat(second.isActive()).isFalse();
        second.destroy();

        terminateHolder();
        try (Connection intruder = other.getConnection(); Statement st = intruder.createStatement()) {
            try (ResultSet rs = st.executeQuery("select pg_try_advisory_lock(" + ActiveOrchestratorLock.KEY_CLASS
                    + ", " + ActiveOrchestratorLock.KEY_ID + ")")) {
                rs.next();
                assertThat(rs.getBoolean(1)).isTrue();
            }
            first.check();
            assertThat(lost).as("another session holds it: fail-stop").hasValue(1);
        }
    }

    /**
     * A one-sided split: the lock's session is gone and the database cannot be reached. Agents are refused from the
     * failed check on (not only once the deadline passed), and served again once a check holds the lock again.
     */
    @Test
    void aCheckThatCannotReachTheDatabaseStopsServingAgentsUntilTheLockIsTakenAgain() throws Exception {
        AtomicBoolean cut = new AtomicBoolean();
        DataSource cuttable = new DelegatingDataSource(other) {
            @Override
            public Connection getConnection() throws SQLException {
                if (cut.get()) {
                    throw new SQLException("Connection attempt timed out (test: the network is cut)");
                }
                return super.getConnection();
            }
        };
        first = lock(cuttable, () -> { });
        assertThat(first.confirmed()).isTrue();
        terminateHolder();
        cut.set(true);
        first.check();
        assertThat(first.confirmed()).as("a failed check refuses agents at once").isFalse();
        first.check();
        assertThat(first.confirmed()).isFalse();
        assertThat(lost).hasValue(0);

        cut.set(false);
        first.check();
        assertThat(first.confirmed()).as("the lock is taken again").isTrue();
        assertThat(reconfirmed).hasValue(1);
        second = lock(() -> { });
        assertThat(second.isActive()).isFalse();
        assertThat(second.confirmed()).as("a standby serves no agent").isFalse();
    }

    /** A check that hangs cannot keep agents served: past lock-confirm-within they are refused until one succeeds. */
    @Test
    void withoutAConfirmationWithinTheDeadlineAgentsAreRefused() {
        first = lock(() -> { });
        ticker.advance(Duration.ofSeconds(10));
        assertThat(first.confirmed()).isTrue();
        ticker.advance(Duration.ofMillis(1));
        assertThat(first.confirmed()).isFalse();
        first.check();
        assertThat(first.confirmed()).isTrue();
        assertThat(reconfirmed).hasValue(1);
        ticker.advance(Duration.ofSeconds(9));
        first.check();
        assertThat(reconfirmed).as("announced only after a stretch without confirmation").hasValue(1);
    }

    private void terminateHolder() throws Exception {
        try (Connection c = other.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory'"
                     + " and granted and classid = " + ActiveOrchestratorLock.KEY_CLASS + " and objid = "
                     + ActiveOrchestratorLock.KEY_ID // this database's holder only: not the shared context's
                     + " and database = (select oid from pg_database where datname = current_database())")) {
            assertThat(rs.next()).as("a holder to terminate").isTrue();
            assertThat(rs.getBoolean(1)).isTrue();
        }
        Thread.sleep(200); // the backend exits asynchronously
    }
}
