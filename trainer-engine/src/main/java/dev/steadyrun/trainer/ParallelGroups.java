package dev.steadyrun.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

import dev.steadyrun.collectives.Collectives;
import dev.steadyrun.collectives.DistConfig;
import dev.steadyrun.collectives.Rendezvous;

/**
 * Two-dimensional process groups (tensor × data parallel) cut out of a world ring: world rank r is tensor rank
 * r mod T of tensor group ⌊r/T⌋ (adjacent ranks, so a tensor group sits on one node when the world's ranks are
 * numbered node by node) and data rank ⌊r/T⌋ of data group r mod T. Each group is a ring of its own over the same
 * transport: its first member listens for the group's rendezvous on a fresh port of {@code host} (IPv4), the world
 * ring tells every member where (one all-reduce), and the group forms as any generation's ring does, with the run's
 * secret and a run id naming the group.
 */
record ParallelGroups(Collectives tensor, Collectives data) implements AutoCloseable {

    /**
     * The groups of a launch's world ring. A group's first member listens on the address its node reaches rank 0's
     * rendezvous from (rank 0: the rendezvous host itself), which every member of the world can reach.
     */
    static ParallelGroups of(Collectives world, DistConfig base, int tensorParallel) {
        String host = world.rank() == 0 ? base.rendezvousHost() : addressToward(base.rendezvousHost());
        return split(world, base, tensorParallel, host);
    }

    /**
     * A second ring of the world's ranks in the same order (a memory snapshot's replication runs on it beside the
     * training ring): rank 0 listens on a fresh port of its rendezvous host and tells the others by a broadcast over
     * {@code world}; the ring forms with the run's secret and a run id naming it. A collective on {@code world}.
     */
    static Collectives sameRanks(Collectives world, DistConfig base, String name) {
        String host = base.rendezvousHost();
        double[] port = {world.rank() == 0 ? freePort(host) : 0};
        world.broadcast(port, 0);
        return Rendezvous.join(new DistConfig(base.runId() + "." + name, base.generation(), world.rank(),
                world.worldSize(), host + ":" + (int) port[0], base.connectTimeout(), base.handshakeTimeout(),
                base.operationTimeout(), base.bucketBytes(), base.ringSecret()));
    }

    /** The local IPv4 address this host's packets to {@code host} leave from (a UDP connect sends nothing). */
    private static String addressToward(String host) {
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(InetAddress.getByName(host), 9);
            InetAddress local = probe.getLocalAddress();
            return local.isAnyLocalAddress() ? host : local.getHostAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ParallelGroups split(Collectives world, DistConfig base, int tensorParallel, String host) {
        int w = world.worldSize();
        if (tensorParallel < 1 || w % tensorParallel != 0) {
            throw new TrainConfig.InvalidConfigException("tensorParallel: " + tensorParallel + " must divide the world"
                    + " size " + w);
        }
        int r = world.rank();
        int t = r % tensorParallel;
        int d = r / tensorParallel;
        byte[] ip;
        try {
            ip = InetAddress.getByName(host).getAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (ip.length != 4) {
            throw new IllegalArgumentException("parallel groups: " + host + " is not an IPv4 address");
        }
        // [4 address bytes, tensor group port, data group port] per rank; a rank fills the ports of the groups it leads
        double[] table = new double[6 * w];
        for (int b = 0; b < 4; b++) {
            table[6 * r + b] = ip[b] & 0xff;
        }
        table[6 * r + 4] = t == 0 ? freePort(host) : 0;
        table[6 * r + 5] = d == 0 ? freePort(host) : 0;
        world.allReduceSum(table);
        int tensorLeader = d * tensorParallel;
        int dataLeader = t;
        Collectives tensor = join(base, base.runId() + ".tensor" + d, t, tensorParallel, table, tensorLeader, 4);
        try {
            return new ParallelGroups(tensor, join(base, base.runId() + ".data" + t, d, w / tensorParallel, table,
                    dataLeader, 5));
        } catch (RuntimeException e) {
            tensor.close();
            throw e;
        }
    }

    private static Collectives join(DistConfig base, String runId, int rank, int size, double[] table, int leader,
                                    int portColumn) {
        String address = (int) table[6 * leader] + "." + (int) table[6 * leader + 1] + "." + (int) table[6 * leader + 2]
                + "." + (int) table[6 * leader + 3] + ":" + (int) table[6 * leader + portColumn];
        return Rendezvous.join(new DistConfig(runId, base.generation(), rank, size, size == 1 ? null : address,
                base.connectTimeout(), base.handshakeTimeout(), base.operationTimeout(), base.bucketBytes(),
                base.ringSecret()));
    }

    /** A port free now; the leader binds it again in the rendezvous a moment later (tests run many rings at once). */
    private static int freePort(String host) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(host, 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        tensor.close();
        data.close();
    }
}
