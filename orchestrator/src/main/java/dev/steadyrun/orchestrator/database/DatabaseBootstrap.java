package dev.steadyrun.orchestrator.database;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * Makes the configured PostgreSQL usable before the DataSource and Flyway start: starts an embedded server when
 * nothing answers and the fallback is on, and creates the database when it is missing.
 * Closing it stops the embedded server, if one was started.
 */
public final class DatabaseBootstrap implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DatabaseBootstrap.class);
    private static final Pattern URL = Pattern.compile("jdbc:postgresql://([^/:?]+)(?::(\\d+))?/([^?]+)(\\?.*)?");

    private final String jdbcUrl;
    private final String username;
    private final EmbeddedPostgres embedded;

    private DatabaseBootstrap(String jdbcUrl, String username, EmbeddedPostgres embedded) {
        this.jdbcUrl = jdbcUrl;
        this.username = username;
        this.embedded = embedded;
    }

    /** The URL the DataSource must use (it points at the embedded server when one was started). */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    /** The user the DataSource must use ({@code postgres} on the embedded server). */
    public String username() {
        return username;
    }

    public static DatabaseBootstrap prepare(String url, String user, String password, DatabaseProperties props) {
        Matcher m = URL.matcher(url);
        if (!m.matches()) {
            // Not a plain PostgreSQL URL (e.g. a cluster URL with several hosts): use it as it is.
            return new DatabaseBootstrap(url, user, null);
        }
        String host = m.group(1);
        int port = m.group(2) != null ? Integer.parseInt(m.group(2)) : 5432;
        String database = m.group(3);
        String query = m.group(4) != null ? m.group(4) : "";
        EmbeddedPostgres embedded = null;
        if (!answers(host, port, props)) {
            if (!props.embeddedFallback()) {
                throw new IllegalStateException("Nothing answers on PostgreSQL " + host + ":" + port
                        + ". Start PostgreSQL there (e.g. apt-get install postgresql && pg_ctlcluster 15 main start)"
                        + " or set steadyrun.database.embedded-fallback=true for a local run.");
            }
            embedded = startEmbedded();
            host = "127.0.0.1";
            port = embedded.getPort();
            user = "postgres";
            password = null;
        }
        String effective = "jdbc:postgresql://" + host + ":" + port + "/" + database + query;
        if (props.createDatabase()) {
            createIfMissing("jdbc:postgresql://" + host + ":" + port + "/postgres" + query, user, password, database);
        }
        return new DatabaseBootstrap(effective, user, embedded);
    }

    private static boolean answers(String host, int port, DatabaseProperties props) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) props.probeTimeout().toMillis());
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static EmbeddedPostgres startEmbedded() {
        if ("root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("No PostgreSQL answers and the embedded fallback cannot run as root"
                    + " (initdb refuses root). Run PostgreSQL (e.g. apt-get install postgresql &&"
                    + " pg_ctlcluster 15 main start) or start the orchestrator as a non-root user.");
        }
        try {
            EmbeddedPostgres pg = EmbeddedPostgres.builder().start();
            log.warn("No PostgreSQL answered; started an embedded one on port {} (data is lost on exit)",
                    pg.getPort());
            return pg;
        } catch (IOException e) {
            throw new IllegalStateException("Could not start the embedded PostgreSQL: " + e.getMessage()
                    + ". Run PostgreSQL instead (e.g. apt-get install postgresql && pg_ctlcluster 15 main start).", e);
        }
    }

    private static void createIfMissing(String adminUrl, String user, String password, String database) {
        try (Connection c = DriverManager.getConnection(adminUrl, user, password)) {
            try (PreparedStatement ps = c.prepareStatement("select 1 from pg_database where datname = ?")) {
                ps.setString(1, database);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return;
                    }
                }
            }
            try (Statement st = c.createStatement()) {
                st.execute("create database \"" + database.replace("\"", "\"\"") + "\"");
                log.info("Created database {}", database);
            } catch (SQLException e) {
                // Another instance created it between our check and our CREATE: fine.
                if (!"42P04".equals(e.getSQLState())) {
                    throw e;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Could not check or create database '" + database + "' via " + adminUrl
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        if (embedded != null) {
            embedded.close();
        }
    }
}
