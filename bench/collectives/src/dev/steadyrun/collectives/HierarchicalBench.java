package dev.steadyrun.collectives;

import static dev.steadyrun.collectives.CollectivesBench.max;
import static dev.steadyrun.collectives.CollectivesBench.median;
import static dev.steadyrun.collectives.CollectivesBench.min;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import dev.steadyrun.protocol.RingSecret;

/**
 * The flat ring's all-reduce against {@link HierarchicalAllReduce}, M "nodes" × L ranks (threads), in interleaved
 * rounds so that a change in the machine's load hits both alike (which one goes first alternates by round). Every rank
 * joins three rings: the flat one over all ML ranks (node by node, as the agent numbers them), its node's ring and its
 * local rank's cross ring. A call's time is the slowest rank's, a round's figure the fastest of its {@link #CALLS}
 * calls (each after a barrier, on data refilled from the rank's template); printed: per size and algorithm the median
 * and range over the rounds of the time and of the bus bandwidth, 2(N−1)/N × bytes / time for N = ML ranks (the NCCL
 * convention, the same formula for both algorithms), and of the per-round ratio flat time / hierarchical time.
 *
 * <p>One JVM may run every node (all rings on loopback) or one node each (e.g. one per network namespace): node rings
 * meet on 127.0.0.1 (port base + 1 + m), the flat ring and the cross rings at node 0's address ({@code leaderHost},
 * ports base and base + 1 + M + l), so cross-node traffic takes whatever route leads there. The JVM that runs rank 0
 * prints; the figures of every rank reach it through one all-reduce of the time table over the flat ring.
 *
 * <p>Args: nodes, ranks per node, first and last node this JVM runs, leaderHost, base port, rounds, MiB of floats...
 * The ring secret comes from {@code STEADYRUN_RING_SECRET} (every JVM must share it).
 */
public final class HierarchicalBench {
    private static final int CALLS = 3;
    private static final String[] ALGORITHMS = {"flat", "hierarchical"};

    public static void main(String[] args) throws Exception {
        int nodes = Integer.parseInt(args[0]);
        int perNode = Integer.parseInt(args[1]);
        int firstNode = Integer.parseInt(args[2]);
        int lastNode = Integer.parseInt(args[3]);
        String leaderHost = args[4];
        int basePort = Integer.parseInt(args[5]);
        int rounds = Integer.parseInt(args[6]);
        int[] mib = Arrays.stream(args, 7, args.length).mapToInt(Integer::parseInt).toArray();
        RingSecret secret = RingSecret.fromEnvironment(System.getenv(RingSecret.ENV));
        Layout layout = new Layout(nodes, perNode, leaderHost, basePort, rounds, mib, secret);

        ExecutorService pool = Executors.newFixedThreadPool((lastNode - firstNode + 1) * perNode);
        try {
            List<Future<double[]>> ranks = new ArrayList<>();
            for (int m = firstNode; m <= lastNode; m++) {
                for (int l = 0; l < perNode; l++) {
                    int node = m;
                    int local = l;
                    ranks.add(pool.submit(() -> layout.rank(node, local)));
                }
            }
            for (Future<double[]> f : ranks) {
                double[] table = f.get();
                if (table != null) {
                    layout.print(table);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private record Layout(int nodes, int perNode, String leaderHost, int basePort, int rounds, int[] mib,
                          RingSecret secret) {
        int world() {
            return nodes * perNode;
        }

        /** Time-table slots of one rank: round, size, algorithm, call. */
        int slots() {
            return rounds * mib.length * ALGORITHMS.length * CALLS;
        }

        int slot(int round, int size, int algorithm, int call) {
            return ((round * mib.length + size) * ALGORITHMS.length + algorithm) * CALLS + call;
        }

        DistConfig config(String rendezvous, int rank, int size) {
            return DistConfig.of("bench-hierarchical", 1, rank, size, rendezvous, secret)
                    .withTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(120), Duration.ofSeconds(60));
        }

        /** Runs one rank; returns every rank's call times (nanoseconds) on rank 0, null elsewhere. */
        double[] rank(int m, int l) {
            int r = m * perNode + l;
            try (Collectives flat = Rendezvous.join(config(leaderHost + ":" + basePort, r, world()));
                 Collectives node = Rendezvous.join(config("127.0.0.1:" + (basePort + 1 + m), l, perNode));
                 Collectives cross = Rendezvous.join(config(leaderHost + ":" + (basePort + 1 + nodes + l), m,
                         nodes))) {
                HierarchicalAllReduce hierarchical = new HierarchicalAllReduce(node, cross);
                int maxBytes = Arrays.stream(mib).max().orElse(0) << 20;
                ByteBuffer data = ByteBuffer.allocateDirect(maxBytes).order(ByteOrder.nativeOrder());
                ByteBuffer template = ByteBuffer.allocateDirect(maxBytes).order(ByteOrder.nativeOrder());
                // rank r contributes r + 1 everywhere: the sum is an exact integer, checked after the warm-up calls
                for (int i = 0; i < maxBytes; i += Float.BYTES) {
                    template.putFloat(i, r + 1);
                }
                float expected = world() * (world() + 1) / 2f;
                for (int s = 0; s < mib.length; s++) {
                    for (int a = 0; a < ALGORITHMS.length; a++) {
                        ByteBuffer buffer = refill(flat, data, template, mib[s] << 20);
                        allReduce(flat, hierarchical, a, buffer);
                        for (int i = 0; i < buffer.capacity(); i += Float.BYTES) {
                            if (buffer.getFloat(i) != expected) {
                                throw new IllegalStateException(ALGORITHMS[a] + " all-reduce of " + mib[s] + " MiB: "
                                        + "float " + i / Float.BYTES + " is " + buffer.getFloat(i) + ", not "
                                        + expected);
                            }
                        }
                    }
                }
                double[] table = new double[world() * slots()];
                for (int round = 0; round < rounds; round++) {
                    for (int s = 0; s < mib.length; s++) {
                        for (int k = 0; k < ALGORITHMS.length; k++) {
                            int a = (round + k) % ALGORITHMS.length;
                            for (int c = 0; c < CALLS; c++) {
                                ByteBuffer buffer = refill(flat, data, template, mib[s] << 20);
                                long start = System.nanoTime();
                                allReduce(flat, hierarchical, a, buffer);
                                table[r * slots() + slot(round, s, a, c)] = System.nanoTime() - start;
                            }
                        }
                    }
                }
                // every rank filled only its own slots, so the sum is a gather
                flat.allReduceSum(table);
                return r == 0 ? table : null;
            }
        }

        /** The first {@code bytes} of data refilled from the template, once every rank has done so. */
        private static ByteBuffer refill(Collectives flat, ByteBuffer data, ByteBuffer template, int bytes) {
            ByteBuffer buffer = data.slice(0, bytes).order(ByteOrder.nativeOrder());
            buffer.put(0, template, 0, bytes);
            flat.barrier();
            return buffer;
        }

        private static void allReduce(Collectives flat, HierarchicalAllReduce hierarchical, int algorithm,
                                      ByteBuffer buffer) {
            if (algorithm == 0) {
                flat.allReduceSum(buffer);
            } else {
                hierarchical.allReduceSum(buffer);
            }
        }

        void print(double[] table) {
            int n = world();
            double busFactor = 2.0 * (n - 1) / n;
            // figure[size][algorithm][round]: the fastest call of the round, a call lasting as long as its slowest rank
            double[][][] figure = new double[mib.length][ALGORITHMS.length][rounds];
            for (int round = 0; round < rounds; round++) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d:", round + 1));
                for (int s = 0; s < mib.length; s++) {
                    for (int a = 0; a < ALGORITHMS.length; a++) {
                        double best = Double.MAX_VALUE;
                        for (int c = 0; c < CALLS; c++) {
                            double slowest = 0;
                            for (int r = 0; r < n; r++) {
                                slowest = Math.max(slowest, table[r * slots() + slot(round, s, a, c)]);
                            }
                            best = Math.min(best, slowest);
                        }
                        figure[s][a][round] = best / 1e6;
                    }
                    line.append(String.format(Locale.ROOT, "  %d MiB flat %.1f ms, hierarchical %.1f ms;", mib[s],
                            figure[s][0][round], figure[s][1][round]));
                }
                System.out.println(line);
            }
            System.out.printf(Locale.ROOT, "%d nodes x %d ranks (N=%d), median over %d rounds of the fastest of %d"
                    + " calls (ranges in brackets):%n", nodes, perNode, n, rounds, CALLS);
            for (int s = 0; s < mib.length; s++) {
                double bytes = (double) mib[s] * (1 << 20);
                for (int a = 0; a < ALGORITHMS.length; a++) {
                    double[] ms = figure[s][a];
                    double[] bus = Arrays.stream(ms).map(t -> busFactor * bytes / (t / 1e3) / 1e9).toArray();
                    System.out.printf(Locale.ROOT, "  %3d MiB %-12s %8.1f ms [%.1f-%.1f]  bus bandwidth %.2f GB/s"
                                    + " [%.2f-%.2f]%n", mib[s], ALGORITHMS[a], median(ms), min(ms), max(ms),
                            median(bus), min(bus), max(bus));
                }
                double[] speedup = new double[rounds];
                for (int round = 0; round < rounds; round++) {
                    speedup[round] = figure[s][0][round] / figure[s][1][round];
                }
                System.out.printf(Locale.ROOT, "  %3d MiB flat time / hierarchical time %.2f [%.2f-%.2f]%n", mib[s],
                        median(speedup), min(speedup), max(speedup));
            }
        }
    }
}
