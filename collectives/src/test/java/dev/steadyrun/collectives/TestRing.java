package dev.steadyrun.collectives;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.steadyrun.protocol.RingSecret;

/** Test tool: N ranks of one ring as threads of this JVM, on 127.0.0.1 with short timeouts. */
final class TestRing {
    static final String RUN = "run-test";
    /** The secret of every test ring (fixed, so that two generations of one test share it). */
    static final RingSecret SECRET = RingSecret.of("test-ring-secret-0123456789abcdef".getBytes(StandardCharsets.UTF_8));

    interface RankBody<T> {
        T run(Collectives c) throws Exception;
    }

    private TestRing() {
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static DistConfig config(int port, long generation, int rank, int worldSize, int bucketBytes) {
        return new DistConfig(RUN, generation, rank, worldSize, "127.0.0.1:" + port, Duration.ofSeconds(5),
                Duration.ofSeconds(5), Duration.ofSeconds(5), bucketBytes, SECRET);
    }

    /** Runs body on every rank of a fresh ring and returns the results by rank; any rank's failure is thrown. */
    static <T> List<T> run(int worldSize, int bucketBytes, RankBody<T> body) throws Exception {
        int port = freePort();
        ExecutorService pool = Executors.newFixedThreadPool(worldSize);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < worldSize; r++) {
                DistConfig config = config(port, 1, r, worldSize, bucketBytes);
                futures.add(pool.submit(() -> {
                    try (Collectives c = Rendezvous.join(config)) {
                        return body.run(c);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(30, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }
}
