package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL cluster of a test's own (initdb, pg_ctl from the installed server package) on a free port in a
 * temporary folder, so that a test may stop and start the database without touching the machine's shared one.
 * PostgreSQL refuses to run as root: as root, the cluster belongs to the {@code postgres} user and every command
 * runs as that user ({@code runuser}). Trust authentication, on 127.0.0.1 only.
 */
public final class PrivatePostgres implements AutoCloseable {

    private final Path bin;
    private final Path home;
    private final Path data;
    private final int port;
    private final boolean asPostgres;

    private PrivatePostgres(Path bin, Path home, int port, boolean asPostgres) {
        this.bin = bin;
        this.home = home;
        this.data = home.resolve("data");
        this.port = port;
        this.asPostgres = asPostgres;
    }

    /**
     * The newest installed server's binaries ({@code STEADYRUN_PG_BIN}, else {@code /usr/lib/postgresql/<v>/bin}),
     * or why there are none usable: the reason a test that needs them is skipped.
     */
    public static Optional<Path> binaries(StringBuilder whyNot) {
        String configured = System.getenv("STEADYRUN_PG_BIN");
        List<Path> candidates = new ArrayList<>();
        if (configured != null && !configured.isBlank()) {
            candidates.add(Path.of(configured));
        } else if (Files.isDirectory(Path.of("/usr/lib/postgresql"))) {
            try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
                versions.map(v -> v.resolve("bin"))
                        .sorted(Comparator.comparing((Path p) -> version(p.getParent())).reversed())
                        .forEach(candidates::add);
            } catch (IOException e) {
                whyNot.append("cannot list /usr/lib/postgresql: ").append(e.getMessage());
                return Optional.empty();
            }
        }
        for (Path b : candidates) {
            if (Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl"))) {
                if (isRoot() && !hasPostgresUser()) {
                    whyNot.append("running as root and there is no 'postgres' user to run PostgreSQL as");
                    return Optional.empty();
                }
                return Optional.of(b);
            }
        }
        whyNot.append("no PostgreSQL server binaries (initdb, pg_ctl) in ")
                .append(configured != null && !configured.isBlank() ? configured
                        : "/usr/lib/postgresql/*/bin (install the postgresql package, or set STEADYRUN_PG_BIN)");
        return Optional.empty();
    }

    /** Creates the cluster (initdb) and starts it. */
    public static PrivatePostgres start(Path bin) throws IOException, InterruptedException {
        Path home = Files.createTempDirectory("steadyrun-pg");
        boolean asPostgres = isRoot();
        if (asPostgres) {
            UserPrincipalLookupService users = home.getFileSystem().getUserPrincipalLookupService();
            Files.setOwner(home, users.lookupPrincipalByName("postgres"));
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        PrivatePostgres pg = new PrivatePostgres(bin, home, port, asPostgres);
        pg.run(List.of(bin.resolve("initdb").toString(), "-D", pg.data.toString(), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-sync"), 120);
        pg.start();
        return pg;
    }

    /** host:port, for a JDBC url. */
    public String server() {
        return "127.0.0.1:" + port;
    }

    /** Starts the server and waits until it accepts connections. */
    public void start() throws IOException, InterruptedException {
        // fsync off: the test stops the server cleanly (fast), and a disk flush per commit only slows a busy machine
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", home.resolve("server.log")
                .toString(), "-w", "-t", "120", "-o", "-p " + port + " -c listen_addresses=127.0.0.1"
                + " -c unix_socket_directories=" + home + " -c fsync=off -c max_connections=60", "start"), 150);
    }

    /** Stops the server the way an operator's restart does: fast mode (clients are disconnected, a clean stop). */
    public void stopFast() throws IOException, InterruptedException {
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "-t", "60",
                "stop"), 90);
    }

    /** The server's log, for a failing test's message. */
    public Path log() {
        return home.resolve("server.log");
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (Files.exists(data.resolve("postmaster.pid"))) {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"),
                    60);
        }
        try (Stream<Path> all = Files.walk(home)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                if (!p.equals(home.resolve("server.log")) && !p.equals(home)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private void run(List<String> command, int timeoutSeconds) throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>();
        if (asPostgres) {
            argv.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        argv.addAll(command);
        Process p = new ProcessBuilder(argv).directory(home.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " did not finish within " + timeoutSeconds + " s: " + out);
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", argv) + " exited " + p.exitValue() + ": " + out);
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static boolean hasPostgresUser() {
        try {
            return Files.readAllLines(Path.of("/etc/passwd")).stream().anyMatch(l -> l.startsWith("postgres:"));
        } catch (IOException e) {
            return false;
        }
    }

    private static int version(Path dir) {
        try {
            return Integer.parseInt(dir.getFileName().toString().replaceAll("\\D.*", ""));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
