package dev.steadyrun.collectives;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import dev.steadyrun.protocol.RingSecret;

/**
 * Loopback figures in one JVM, measured in interleaved rounds so that a change in the machine's load hits every figure
 * alike: raw TCP throughput of one socket (4 MiB writes from one buffer); for each world size N, ring all-reduce bus
 * bandwidth (ranks as threads), 2(N-1)/N × bytes / time as NCCL reports it, and one link of a raw TCP ring of N sockets
 * all streaming at once (4 MiB writes from one buffer, as for the one socket: it stays in cache, so this ceiling is
 * stricter than moving the all-reduce's 64 MiB through memory).
 *
 * <p>Ratios of the same round's figures, median and range: bus bandwidth / one socket; N × that, the all-reduce's share
 * of loopback (on one machine the N links are not independent: N sockets streaming at once share the cores one socket
 * already keeps busy); bus bandwidth / raw ring link, the same traffic pattern without the collectives' framing,
 * additions and waits. CPU busy: the machine's cores busy during each figure, from /proc/stat.
 *
 * <p>Args: megabytes of floats to all-reduce, rounds, world sizes... System properties: {@code bucketBytes} (default
 * {@link DistConfig#DEFAULT_BUCKET_BYTES}); {@code direct=false} all-reduces a {@code float[]} instead of a direct
 * buffer (the trainer hands over ND4J's native memory, a direct buffer).
 */
public final class CollectivesBench {
    private static final int BUCKET_BYTES = Integer.getInteger("bucketBytes", DistConfig.DEFAULT_BUCKET_BYTES);
    private static final boolean DIRECT = Boolean.parseBoolean(System.getProperty("direct", "true"));
    /** Timed all-reduce calls per round; the round's figure is the fastest (the least disturbed). */
    private static final int CALLS = 3;
    private static final RingSecret SECRET = RingSecret.random();
    private static final int IO_BYTES = 4 << 20;

    private record Figure(double bytesPerSecond, double cpuBusy) {
    }

    public static void main(String[] args) throws Exception {
        int megabytes = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        int[] worldSizes = Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray();
        long rawBytes = Math.max(1024L << 20, 8L * megabytes << 20);
        long ringBytes = Math.max(512L << 20, 4L * megabytes << 20);
        int dataBytes = megabytes << 20;

        rawTcp(rawBytes / 4);                                   // warm-up
        for (int n : worldSizes) {
            allReduce(n, megabytes);
        }
        double[] raw = new double[rounds];
        double[][] bus = new double[worldSizes.length][rounds];
        double[][] link = new double[worldSizes.length][rounds];
        for (int round = 0; round < rounds; round++) {
            Figure r = rawTcp(rawBytes);
            raw[round] = r.bytesPerSecond();
            System.out.printf(Locale.ROOT, "round %d: raw TCP one socket %.2f GB/s (CPU busy %.0f%%)%n", round + 1,
                    r.bytesPerSecond() / 1e9, 100 * r.cpuBusy());
            for (int k = 0; k < worldSizes.length; k++) {
                int n = worldSizes[k];
                Figure a = allReduce(n, megabytes);
                bus[k][round] = 2.0 * (n - 1) / n * a.bytesPerSecond();
                Figure l = rawRingLink(n, ringBytes);
                link[k][round] = l.bytesPerSecond();
                System.out.printf(Locale.ROOT, "  N=%d: all-reduce %.1f ms, bus bandwidth %.2f GB/s (CPU busy %.0f%%);"
                                + " raw ring link %.2f GB/s (CPU busy %.0f%%)%n", n, dataBytes / a.bytesPerSecond() * 1e3,
                        bus[k][round] / 1e9, 100 * a.cpuBusy(), link[k][round] / 1e9, 100 * l.cpuBusy());
            }
        }
        System.out.printf(Locale.ROOT, "median over %d rounds, %d MiB of floats, %s data, %d-byte buckets"
                + " (ranges in brackets):%n", rounds, megabytes, DIRECT ? "direct" : "heap", BUCKET_BYTES);
        System.out.printf(Locale.ROOT, "  raw TCP one socket %.2f GB/s [%.2f-%.2f]%n", median(raw) / 1e9,
                min(raw) / 1e9, max(raw) / 1e9);
        for (int k = 0; k < worldSizes.length; k++) {
            int n = worldSizes[k];
            System.out.printf(Locale.ROOT, "  N=%d: bus bandwidth %.2f GB/s [%.2f-%.2f], raw ring link %.2f GB/s"
                            + " [%.2f-%.2f]%n", n, median(bus[k]) / 1e9, min(bus[k]) / 1e9, max(bus[k]) / 1e9,
                    median(link[k]) / 1e9, min(link[k]) / 1e9, max(link[k]) / 1e9);
            System.out.printf(Locale.ROOT, "    ratio bus / one socket     %s%n", ratios(bus[k], raw, 1));
            System.out.printf(Locale.ROOT, "    ratio N x bus / one socket %s%n", ratios(bus[k], raw, n));
            System.out.printf(Locale.ROOT, "    ratio bus / ring link      %s%n", ratios(bus[k], link[k], 1));
        }
    }

    /** Per-round ratios of the same round's figures: median and range. */
    private static String ratios(double[] top, double[] bottom, int factor) {
        double[] r = new double[top.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = factor * top[i] / bottom[i];
        }
        return String.format(Locale.ROOT, "%.2f [%.2f-%.2f]", median(r), min(r), max(r));
    }

    /** One blocking channel, 4 MiB direct buffers (no copy through a temporary buffer): Java's fastest socket path. */
    private static Figure rawTcp(long total) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            client.socket().setTcpNoDelay(true);
            ExecutorService reader = Executors.newSingleThreadExecutor();
            try {
                return timed(total, () -> {
                    Future<?> got = reader.submit(() -> drain(accepted, total));
                    stream(client, total);
                    got.get();
                    return null;
                });
            } finally {
                reader.shutdownNow();
            }
        }
    }

    /** N loopback sockets in a ring, socket i from thread i to a reader of thread i+1, all streaming at once. */
    private static Figure rawRingLink(int n, long total) throws Exception {
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
            return timed(total, () -> {
                List<Future<?>> work = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    SocketChannel reader = in.get(i);
                    SocketChannel writer = out.get(i);
                    work.add(pool.submit(() -> drain(reader, total)));
                    work.add(pool.submit(() -> stream(writer, total)));
                }
                for (Future<?> f : work) {
                    f.get();
                }
                return null;
            });
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

    private static Void stream(SocketChannel channel, long total) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(IO_BYTES);
        for (long sent = 0; sent < total; sent += chunk.capacity()) {
            chunk.clear();
            while (chunk.hasRemaining()) {
                channel.write(chunk);
            }
        }
        return null;
    }

    private static Void drain(SocketChannel channel, long total) throws IOException {
        ByteBuffer sink = ByteBuffer.allocateDirect(IO_BYTES);
        for (long got = 0; got < total; ) {
            int r = channel.read(sink.clear());
            if (r < 0) {
                throw new IllegalStateException("closed early");
            }
            got += r;
        }
        return null;
    }

    /**
     * N ranks (threads) join a ring and all-reduce the same direct buffer (or float[]) once untimed, then
     * {@link #CALLS} times after a barrier each; the figure is bytes over the fastest call of the slowest rank, CPU busy
     * is over all timed calls (barriers included).
     */
    private static Figure allReduce(int n, int megabytes) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        int length = megabytes * (1 << 20) / Float.BYTES;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<long[]>> ranks = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                DistConfig config = DistConfig.of("bench", 1, r, n, "127.0.0.1:" + port, SECRET)
                        .withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60))
                        .withBucketBytes(BUCKET_BYTES);
                float[] heap = new float[length];
                Arrays.fill(heap, r + 1);
                ByteBuffer direct = ByteBuffer.allocateDirect(length * Float.BYTES).order(ByteOrder.nativeOrder());
                direct.asFloatBuffer().put(heap);
                ranks.add(pool.submit(() -> {
                    try (Collectives c = Rendezvous.join(config)) {
                        long best = Long.MAX_VALUE;
                        long[] cpu = null;
                        for (int i = 0; i <= CALLS; i++) {
                            c.barrier();
                            if (i == 1) {
                                cpu = cpuTicks();
                            }
                            long start = System.nanoTime();
                            if (DIRECT) {
                                c.allReduceSum(direct);
                            } else {
                                c.allReduceSum(heap);
                            }
                            long took = System.nanoTime() - start;
                            if (i > 0) {
                                best = Math.min(best, took);
                            }
                        }
                        return new long[] {best, busyPermille(cpu, cpuTicks())};
                    }
                }));
            }
            long slowest = 0;
            long busy = 0;
            for (Future<long[]> f : ranks) {
                long[] best = f.get();
                if (best[0] > slowest) {
                    slowest = best[0];
                    busy = best[1];
                }
            }
            return new Figure(megabytes * (double) (1 << 20) / (slowest / 1e9), busy / 1000.0);
        } finally {
            pool.shutdownNow();
        }
    }

    private static Figure timed(long total, Callable<Void> work) throws Exception {
        long[] cpu = cpuTicks();
        long start = System.nanoTime();
        work.call();
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Figure(total / seconds, busyPermille(cpu, cpuTicks()) / 1000.0);
    }

    /** [busy, total] jiffies of all cores from the first line of /proc/stat; zeros where there is none. */
    private static long[] cpuTicks() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < Math.min(f.length, 9); i++) {
                total += Long.parseLong(f[i]);
            }
            long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
            return new long[] {total - idle, total};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    private static long busyPermille(long[] before, long[] after) {
        long total = after[1] - before[1];
        return total <= 0 ? 0 : 1000 * (after[0] - before[0]) / total;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }
}
