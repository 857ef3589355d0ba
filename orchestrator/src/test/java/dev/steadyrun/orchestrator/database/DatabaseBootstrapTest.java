package dev.steadyrun.orchestrator.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.Test;

/** Against the local PostgreSQL (127.0.0.1:5432), and a port where nothing answers. */
class DatabaseBootstrapTest {

    static final String ADMIN = "jdbc:postgresql://127.0.0.1:5432/postgres";

    static DatabaseProperties props(boolean fallback) {
        return new DatabaseProperties(fallback, Duration.ofMillis(500), true, Duration.ofSeconds(1),
                Duration.ofSeconds(10));
    }

    static boolean exists(String db) throws SQLException {
        try (Connection c = DriverManager.getConnection(ADMIN, "postgres", null);
             ResultSet rs = c.createStatement().executeQuery(
                     "select 1 from pg_database where datname = '" + db + "'")) {
            return rs.next();
        }
    }

    @Test
    void createsTheDatabaseWhenMissingAndLeavesAnExistingOneAlone() throws Exception {
        String db = "steadyrun_bootstrap_" + UUID.randomUUID().toString().substring(0, 8);
        String url = "jdbc:postgresql://127.0.0.1:5432/" + db;
        try (DatabaseBootstrap b = DatabaseBootstrap.prepare(url, "postgres", null, props(false))) {
            assertThat(b.jdbcUrl()).isEqualTo(url);
            assertThat(exists(db)).isTrue();
        }
        try (DatabaseBootstrap again = DatabaseBootstrap.prepare(url, "postgres", null, props(false))) {
            assertThat(again.jdbcUrl()).isEqualTo(url);
        } finally {
            try (Connection c = DriverManager.getConnection(ADMIN, "postgres", null)) {
                c.createStatement().execute("drop database if exists " + db);
            }
        }
    }

    @Test
    void saysToStartPostgresqlWhenNothingAnswersAndTheFallbackIsOff() {
        assertThatThrownBy(() -> DatabaseBootstrap.prepare("jdbc:postgresql://127.0.0.1:1/steadyrun", "postgres",
                null, props(false)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Nothing answers on PostgreSQL 127.0.0.1:1")
                .hasMessageContaining("pg_ctlcluster")
                .hasMessageContaining("embedded-fallback");
    }

    @Test
    void embeddedFallbackRefusesRootWithAClearMessage() {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "only meaningful when the tests run as root");
        assertThatThrownBy(() -> DatabaseBootstrap.prepare("jdbc:postgresql://127.0.0.1:1/steadyrun", "postgres",
                null, props(true)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot run as root")
                .hasMessageContaining("non-root user");
    }
}
