package dev.steadyrun.cli;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The real orchestrator for the CLI's tests: its Spring Boot jar (a test-scope dependency) as a child process on a
 * free port against a freshly created PostgreSQL database, as the worker agent's end-to-end tests start it.
 */
final class OrchestratorProcess implements AutoCloseable {

    static final String JOIN_TOKEN = "cli-join-token-0123456789";
    static final String ADMIN_TOKEN = "cli-admin-token-0123456789";
    private static final String PG = "jdbc:postgresql://127.0.0.1:5432/";

    private final int port;
    private final Process process;

    /** Starts it and waits until it answers its health check. */
    OrchestratorProcess(String database, Path log, List<String> settings, Duration timeout)
            throws IOException, SQLException, InterruptedException {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (Connection c = DriverManager.getConnection(PG + "postgres", "postgres", "");
             Statement st = c.createStatement()) {
            // two people testing at once on one PostgreSQL must not drop each other's database
            database += Optional.ofNullable(System.getenv("STEADYRUN_TEST_DB")).map(d -> "_" + d).orElse("");
            st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            st.execute("CREATE DATABASE " + database);
        }
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-XX:TieredStopAtLevel=1", "-jar", bootJar().toString(), "--server.port=" + port,
                "--spring.datasource.url=" + PG + database, "--steadyrun.security.join-token=" + JOIN_TOKEN,
                "--steadyrun.security.bootstrap-admin-token=" + ADMIN_TOKEN));
        argv.addAll(settings);
        process = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("orchestrator exited with " + process.exitValue() + "; log: " + log);
            }
            try {
                if (http.send(HttpRequest.newBuilder(url().resolve("/actuator/health")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // still booting
            }
            Thread.sleep(250);
        }
        close();
        throw new IllegalStateException("orchestrator not up after " + timeout.toSeconds() + " s; log: " + log);
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    private static Path bootJar() {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.matches(".*orchestrator-[^/]*-exec\\.jar")) {
                return Path.of(entry);
            }
        }
        throw new IllegalStateException("no orchestrator-*-exec.jar on the test classpath (build through the "
                + "reactor: ./mvnw -pl cli -am verify)");
    }
}
