package dev.steadyrun.trainer.dist;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Loopback figures in one JVM: raw TCP throughput of one socket (big writes, a reader that discards), then ring
 * all-reduce bus bandwidth for each world size (ranks as threads), 2(N-1)/N × bytes / time as NCCL reports it, and
 * its ratio to two raw figures: one socket alone, and one link of a raw TCP ring of N sockets all streaming at once
 * (the all-reduce's own traffic pattern without its framing, additions and waits). NCCL compares bus bandwidth with
 * the link bandwidth when every link is busy; on real NICs the links are independent, on loopback they share the
 * machine's cores, so the second figure is the fair ceiling here. Args: megabytes of floats to all-reduce, iterations, world sizes... System properties:
 * {@code bucketBytes} (default {@link DistConfig#DEFAULT_BUCKET_BYTES}); {@code direct=true} all-reduces a direct
 * {@code FloatBuffer} (what the trainer hands over: ND4J's native memory) instead of a {@code float[]}.
 */
public final class CollectivesBench {
    public static void main(String[] args) throws Exception {
        int megabytes = Integer.parseInt(args[0]);
        int iterations = Integer.parseInt(args[1]);
        double raw = rawTcpBytesPerSecond(Math.max(1024L << 20, 8L * megabytes << 20));
        System.out.printf(Locale.ROOT, "raw TCP loopback, one socket, 4 MiB direct-buffer writes: %.2f GB/s%n",
                raw / 1e9);
        for (int i = 2; i < args.length; i++) {
            int n = Integer.parseInt(args[i]);
            double seconds = allReduceSeconds(n, megabytes, iterations);
            double bytes = (double) megabytes * (1 << 20);
            double bus = 2.0 * (n - 1) / n * bytes / seconds;
            double link = rawRingLinkBytesPerSecond(n, Math.max(512L << 20, 4L * megabytes << 20));
            System.out.printf(Locale.ROOT,
                    "all-reduce N=%d, %d MiB of floats: %.1f ms per call, bus bandwidth %.2f GB/s, ratio to raw TCP %.2f"
                            + " (all %d links together: %.2f GB/s, %.2f of raw)%n",
                    n, megabytes, seconds * 1e3, bus / 1e9, bus / raw, n, n * bus / 1e9, n * bus / raw);
            System.out.printf(Locale.ROOT,
                    "raw TCP ring N=%d, every link streaming at once: %.2f GB/s per link; all-reduce bus bandwidth / "
                            + "link %.2f%n", n, link / 1e9, bus / link);
        }
    }

    /**
     * One blocking channel, 4 MiB direct buffers (no copy through a temporary buffer, the fastest way Java moves
     * bytes through a socket). Best of three timed transfers after one warm-up: the least disturbed by other load.
     */
    private static double rawTcpBytesPerSecond(long total) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            client.socket().setTcpNoDelay(true);
            ByteBuffer chunk = ByteBuffer.allocateDirect(4 << 20);
            ExecutorService reader = Executors.newSingleThreadExecutor();
            double best = 0;
            try {
                for (int round = 0; round < 4; round++) {
                    long start = System.nanoTime();
                    Future<Long> got = reader.submit(() -> {
                        ByteBuffer sink = ByteBuffer.allocateDirect(4 << 20);
                        long n = 0;
                        while (n < total) {
                            int r = accepted.read(sink.clear());
                            if (r < 0) {
                                throw new IllegalStateException("closed early");
                            }
                            n += r;
                        }
                        return n;
                    });
                    for (long sent = 0; sent < total; sent += chunk.capacity()) {
                        chunk.clear();
                        while (chunk.hasRemaining()) {
                            client.write(chunk);
                        }
                    }
                    got.get();
                    double rate = total / ((System.nanoTime() - start) / 1e9);
                    if (round > 0) {
                        best = Math.max(best, rate);
                    }
                }
            } finally {
                reader.shutdownNow();
            }
            return best;
        }
    }

    /**
     * N loopback sockets in a ring, socket i from thread i to a reader of thread i+1, all writing {@code total} bytes
     * at once with 4 MiB direct buffers. Best of three timed rounds after one warm-up; per link: total / slowest time.
     */
    private static double rawRingLinkBytesPerSecond(int n, long total) throws Exception {
        List<ServerSocketChannel> servers = new ArrayList<>();
        List<SocketChannel> out = new ArrayList<>();
        List<SocketChannel> in = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(2 * n);
        try {
            for (int i = 0; i < n; i++) {
                ServerSocketChannel server = ServerSocketChannel.open()
                        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                servers.add(server);
                SocketChannel client = SocketChannel.open(server.getLocalAddress());
                client.socket().setTcpNoDelay(true);
                out.add(client);
                in.add(server.accept());
            }
            double best = 0;
            for (int round = 0; round < 4; round++) {
                long start = System.nanoTime();
                List<Future<?>> work = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    SocketChannel reader = in.get(i);
                    SocketChannel writer = out.get(i);
                    work.add(pool.submit(() -> {
                        ByteBuffer sink = ByteBuffer.allocateDirect(4 << 20);
                        for (long got = 0; got < total; ) {
                            int r = reader.read(sink.clear());
                            if (r < 0) {
                                throw new IllegalStateException("closed early");
                            }
                            got += r;
                        }
                        return null;
                    }));
                    work.add(pool.submit(() -> {
                        ByteBuffer chunk = ByteBuffer.allocateDirect(4 << 20);
                        for (long sent = 0; sent < total; sent += chunk.capacity()) {
                            chunk.clear();
                            while (chunk.hasRemaining()) {
                                writer.write(chunk);
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : work) {
                    f.get();
                }
                double rate = total / ((System.nanoTime() - start) / 1e9);
                if (round > 0) {
                    best = Math.max(best, rate);
                }
            }
            return best;
        } finally {
            pool.shutdownNow();
            for (SocketChannel c : out) {
                c.close();
            }
            for (SocketChannel c : in) {
                c.close();
            }
            for (ServerSocketChannel c : servers) {
                c.close();
            }
        }
    }

    /** Best per-call time over the timed iterations, after one warm-up call. */
    private static final int BUCKET_BYTES = Integer.getInteger("bucketBytes", DistConfig.DEFAULT_BUCKET_BYTES);
    private static final boolean DIRECT = Boolean.getBoolean("direct");

    private static double allReduceSeconds(int n, int megabytes, int iterations) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Double>> ranks = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                DistConfig config = DistConfig.of("bench", 1, r, n, "127.0.0.1:" + port)
                        .withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60))
                        .withBucketBytes(BUCKET_BYTES);
                int rank = r;
                ranks.add(pool.submit(() -> {
                    int length = megabytes * (1 << 20) / Float.BYTES;
                    java.nio.FloatBuffer data = DIRECT
                            ? ByteBuffer.allocateDirect(length * Float.BYTES).order(java.nio.ByteOrder.nativeOrder())
                                    .asFloatBuffer()
                            : java.nio.FloatBuffer.wrap(new float[length]);
                    for (int i = 0; i < length; i++) {
                        data.put(i, rank + 1);
                    }
                    try (Collectives c = Rendezvous.join(config)) {
                        c.allReduceSum(data);
                        double best = Double.MAX_VALUE;
                        for (int i = 0; i < iterations; i++) {
                            c.barrier();
                            long start = System.nanoTime();
                            c.allReduceSum(data);
                            best = Math.min(best, (System.nanoTime() - start) / 1e9);
                        }
                        return best;
                    }
                }));
            }
            double slowest = 0;
            for (Future<Double> f : ranks) {
                slowest = Math.max(slowest, f.get());
            }
            return slowest;
        } finally {
            pool.shutdownNow();
        }
    }
}
