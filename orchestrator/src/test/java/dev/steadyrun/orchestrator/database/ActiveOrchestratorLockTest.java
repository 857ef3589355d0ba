package dev.steadyrun.orchestrator.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;

/**
 * The one-orchestrator-per-database lock, on a database of its own (the shared test context holds the lock of the
 * test database): a second orchestrator is refused; a broken lock connection is replaced; a lock taken by another
 * session while the connection was broken stops this orchestrator.
 */
class ActiveOrchestratorLockTest extends OrchestratorIntegrationTest {

    private DriverManagerDataSource other;
    private final AtomicInteger lost = new AtomicInteger();
    private ActiveOrchestratorLock first;

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
        if (first != null) {
            first.destroy();
        }
    }

    @Test
    void aSecondOrchestratorIsRefusedWithTheHolderNamed() {
        first = new ActiveOrchestratorLock(other, lost::incrementAndGet);
        assertThatThrownBy(() -> new ActiveOrchestratorLock(other, lost::incrementAndGet))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("another orchestrator is active on this database (held by PostgreSQL backend")
                .hasMessageContaining("only one may run per database");
        first.destroy();
        first = new ActiveOrchestratorLock(other, lost::incrementAndGet); // released on shutdown
        assertThat(lost).hasValue(0);
    }

    @Test
    void aBrokenConnectionIsReplacedAndALockTakenMeanwhileStopsThisOrchestrator() throws Exception {
        first = new ActiveOrchestratorLock(other, lost::incrementAndGet);
        terminateHolder();
        first.check();
        assertThat(lost).as("nobody else took it: taken again").hasValue(0);
        assertThatThrownBy(() -> new ActiveOrchestratorLock(other, () -> { })).isInstanceOf(IllegalStateException.class);

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

    private void terminateHolder() throws Exception {
        try (Connection c = other.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory'"
                     + " and granted and classid = " + ActiveOrchestratorLock.KEY_CLASS + " and objid = "
                     + ActiveOrchestratorLock.KEY_ID)) {
            assertThat(rs.next()).as("a holder to terminate").isTrue();
            assertThat(rs.getBoolean(1)).isTrue();
        }
        Thread.sleep(200); // the backend exits asynchronously
    }
}
