package dev.steadyrun.trainer.ring;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.ExitCodes;

/**
 * Forms the ring of one generation. Rank 0 listens on the rendezvous address and checks every rank's hello (same run,
 * same generation, right world size, distinct ranks); a rank that fails a check is refused with a reason and an exit
 * code and the others keep waiting. When all ranks are in, rank 0 sends everyone the ring addresses, and each rank
 * connects to its successor and accepts its predecessor. Every wait is bounded by a {@link DistConfig} timeout.
 */
public final class Rendezvous {
    private static final Logger log = LoggerFactory.getLogger(Rendezvous.class);
    private static final long RETRY_MILLIS = 50;

    private Rendezvous() {
    }

    public static Collectives join(DistConfig config) {
        if (config.worldSize() == 1) {
            return new Collectives(config, null, null);
        }
        ServerSocket rendezvous = null;
        ServerSocket ring = null;
        Socket next = null;
        try {
            List<InetSocketAddress> ringAddresses;
            if (config.rank() == 0) {
                InetAddress host = InetAddress.getByName(config.rendezvousHost());
                rendezvous = bind(new InetSocketAddress(host, config.rendezvousPort()), "rendezvous");
                ring = bind(new InetSocketAddress(host, 0), "ring");
                ringAddresses = gather(config, rendezvous, ring);
            } else {
                ringAddresses = new ArrayList<>();
                ring = hello(config, ringAddresses);
            }
            InetSocketAddress successor = ringAddresses.get((config.rank() + 1) % config.worldSize());
            next = connect(successor, config, "successor rank " + (config.rank() + 1) % config.worldSize());
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(next.getOutputStream()));
            new Wire.Hello(config.runId(), config.generation(), config.rank(), config.worldSize(), "", 0)
                    .write(out, Wire.RING_HELLO);
            Socket prev = acceptPredecessor(config, ring);
            return new Collectives(config, next, prev);
        } catch (IOException e) {
            closeQuietly(next);
            throw new PeerLostException(who(config) + ": rendezvous failed: " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(next);
            throw e;
        } finally {
            closeQuietly(rendezvous);
            closeQuietly(ring);
        }
    }

    /** Rank 0: collect every other rank's hello, refusing misfits, then answer all with the ring addresses. */
    private static List<InetSocketAddress> gather(DistConfig config, ServerSocket rendezvous, ServerSocket ring)
            throws IOException {
        int n = config.worldSize();
        Socket[] peers = new Socket[n];
        InetSocketAddress[] addresses = new InetSocketAddress[n];
        addresses[0] = (InetSocketAddress) ring.getLocalSocketAddress();
        long deadline = System.nanoTime() + config.handshakeTimeout().toNanos();
        int joined = 1;
        try {
            while (joined < n) {
                long remaining = millisUntil(deadline);
                if (remaining <= 0) {
                    TreeSet<Integer> missing = new TreeSet<>();
                    for (int r = 1; r < n; r++) {
                        if (peers[r] == null) {
                            missing.add(r);
                        }
                    }
                    throw new PeerLostException(who(config) + ": rendezvous timed out after "
                            + config.handshakeTimeout() + ": ranks " + missing + " of " + n + " did not join", null);
                }
                rendezvous.setSoTimeout((int) Math.min(remaining, Integer.MAX_VALUE));
                Socket socket;
                try {
                    socket = rendezvous.accept();
                } catch (SocketTimeoutException e) {
                    continue;
                }
                Wire.Hello hello;
                DataOutputStream out;
                try {
                    socket.setSoTimeout((int) Math.max(1, millisUntil(deadline)));
                    hello = Wire.Hello.read(new DataInputStream(new BufferedInputStream(socket.getInputStream())),
                            Wire.HELLO);
                    out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                } catch (IOException e) {
                    log.warn("{}: ignored a connection from {}: {}", who(config), socket.getRemoteSocketAddress(),
                            e.toString());
                    closeQuietly(socket);
                    continue;
                }
                String problem = check(config, hello, peers);
                if (problem != null) {
                    // an older rank is fenced off; a newer one is not at fault: rank 0 is, and it exits below
                    int code = hello.generation() < config.generation() ? ExitCodes.STALE_GENERATION
                            : hello.generation() > config.generation() ? ExitCodes.PEER_LOST : ExitCodes.BAD_CONFIG;
                    log.warn("{}: refused {}: {}", who(config), socket.getRemoteSocketAddress(), problem);
                    try {
                        Wire.writeRefuse(out, code, problem);
                    } catch (IOException ignored) {
                        // the refused rank is gone already; nothing to tell it
                    }
                    closeQuietly(socket);
                    if (hello.generation() > config.generation() && hello.runId().equals(config.runId())) {
                        // a newer generation exists: this rank 0 is the stale one and must not hold the ring
                        throw new CollectiveException(ExitCodes.STALE_GENERATION, who(config)
                                + ": a rank of newer generation " + hello.generation() + " arrived; this rank is stale",
                                null);
                    }
                    continue;
                }
                peers[hello.rank()] = socket;
                addresses[hello.rank()] = new InetSocketAddress(hello.host(), hello.port());
                joined++;
            }
            for (int r = 1; r < n; r++) {
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(peers[r].getOutputStream()));
                Wire.writeStart(out, Wire.WELCOME);
                out.writeInt(n);
                for (InetSocketAddress a : addresses) {
                    out.writeUTF(a.getHostString());
                    out.writeInt(a.getPort());
                }
                out.flush();
            }
            return List.of(addresses);
        } finally {
            for (Socket s : peers) {
                closeQuietly(s);
            }
        }
    }

    private static String check(DistConfig config, Wire.Hello hello, Socket[] peers) {
        String from = "rank " + hello.rank() + " of generation " + hello.generation();
        if (!hello.runId().equals(config.runId())) {
            return from + " belongs to run " + hello.runId() + ", this ring is run " + config.runId();
        }
        if (hello.generation() != config.generation()) {
            return from + " is refused: this ring is generation " + config.generation()
                    + (hello.generation() < config.generation() ? " (the rank is stale)" : " (rank 0 is stale)");
        }
        if (hello.worldSize() != config.worldSize()) {
            return from + " expects world size " + hello.worldSize() + ", this ring has " + config.worldSize();
        }
        if (hello.rank() <= 0 || hello.rank() >= config.worldSize()) {
            return from + ": rank out of range [1, " + config.worldSize() + ")";
        }
        if (peers[hello.rank()] != null) {
            return from + ": rank " + hello.rank() + " already joined from " + peers[hello.rank()].getRemoteSocketAddress();
        }
        return null;
    }

    /** Ranks > 0: say hello to rank 0 and wait for the ring addresses (or a refusal). Returns the ring listener. */
    private static ServerSocket hello(DistConfig config, List<InetSocketAddress> ringAddresses) throws IOException {
        InetSocketAddress rendezvous = new InetSocketAddress(config.rendezvousHost(), config.rendezvousPort());
        try (Socket socket = connect(rendezvous, config, "rank 0's rendezvous " + config.rendezvous())) {
            // listen where rank 0 reached us from: the interface that routes to the rest of the job
            ServerSocket ring = bind(new InetSocketAddress(socket.getLocalAddress(), 0), "ring");
            try {
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                new Wire.Hello(config.runId(), config.generation(), config.rank(), config.worldSize(),
                        socket.getLocalAddress().getHostAddress(), ring.getLocalPort()).write(out, Wire.HELLO);
                socket.setSoTimeout((int) Math.min(config.handshakeTimeout().toMillis(), Integer.MAX_VALUE));
                DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
                byte type = Wire.readStart(in);
                if (type == Wire.REFUSE) {
                    int code = in.readInt();
                    throw new CollectiveException(code, who(config) + ": refused by rank 0 at " + config.rendezvous()
                            + ": " + in.readUTF(), null);
                }
                if (type != Wire.WELCOME) {
                    throw new IOException("unexpected answer type " + type + " from rank 0");
                }
                int n = in.readInt();
                if (n != config.worldSize()) {
                    throw new IOException("rank 0 announced world size " + n);
                }
                for (int r = 0; r < n; r++) {
                    ringAddresses.add(new InetSocketAddress(in.readUTF(), in.readInt()));
                }
                return ring;
            } catch (SocketTimeoutException e) {
                closeQuietly(ring);
                throw new PeerLostException(who(config) + ": rank 0 did not complete the rendezvous within "
                        + config.handshakeTimeout() + " (some rank did not join)", e);
            } catch (IOException | RuntimeException e) {
                closeQuietly(ring);
                throw e;
            }
        }
    }

    private static Socket acceptPredecessor(DistConfig config, ServerSocket ring) throws IOException {
        int expected = (config.rank() - 1 + config.worldSize()) % config.worldSize();
        long deadline = System.nanoTime() + config.handshakeTimeout().toNanos();
        while (true) {
            long remaining = millisUntil(deadline);
            if (remaining <= 0) {
                throw new PeerLostException(who(config) + ": predecessor rank " + expected
                        + " did not connect within " + config.handshakeTimeout(), null);
            }
            ring.setSoTimeout((int) Math.min(remaining, Integer.MAX_VALUE));
            Socket socket;
            try {
                socket = ring.accept();
            } catch (SocketTimeoutException e) {
                continue;
            }
            try {
                socket.setSoTimeout((int) Math.max(1, millisUntil(deadline)));
                Wire.Hello hello = Wire.Hello.read(new DataInputStream(socket.getInputStream()), Wire.RING_HELLO);
                if (hello.runId().equals(config.runId()) && hello.generation() == config.generation()
                        && hello.rank() == expected && hello.worldSize() == config.worldSize()) {
                    return socket;
                }
                log.warn("{}: ring connection from {} refused: {}", who(config), socket.getRemoteSocketAddress(), hello);
            } catch (IOException e) {
                log.warn("{}: ring connection from {} failed: {}", who(config), socket.getRemoteSocketAddress(),
                        e.toString());
            }
            closeQuietly(socket);
        }
    }

    /** Retries refused connections until the connect timeout: the peer may not be listening yet. */
    private static Socket connect(InetSocketAddress address, DistConfig config, String what) throws IOException {
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        while (true) {
            // channel-backed, so that Collectives can stream through the channel with direct buffers
            Socket socket = SocketChannel.open().socket();
            try {
                socket.connect(address, (int) Math.max(1, Math.min(millisUntil(deadline), Integer.MAX_VALUE)));
                socket.setTcpNoDelay(true);
                return socket;
            } catch (ConnectException | NoRouteToHostException | SocketTimeoutException e) {
                closeQuietly(socket);
                if (millisUntil(deadline) <= 0) {
                    throw new PeerLostException(who(config) + ": could not connect to " + what + " at " + address
                            + " within " + config.connectTimeout() + ": " + e.getMessage(), e);
                }
                sleep(Math.min(RETRY_MILLIS, millisUntil(deadline)));
            }
        }
    }

    private static ServerSocket bind(InetSocketAddress address, String what) throws IOException {
        ServerSocket server = ServerSocketChannel.open().socket();
        try {
            server.setReuseAddress(true);
            server.bind(address, 64);
            return server;
        } catch (IOException e) {
            closeQuietly(server);
            throw new IOException("cannot listen for " + what + " on " + address + ": " + e.getMessage(), e);
        }
    }

    static String who(DistConfig config) {
        return "rank " + config.rank() + "/" + config.worldSize() + " (generation " + config.generation() + ")";
    }

    private static long millisUntil(long deadlineNanos) {
        return (deadlineNanos - System.nanoTime()) / 1_000_000;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(Math.max(1, millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerLostException("interrupted while connecting", e);
        }
    }

    static void closeQuietly(Closeable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException ignored) {
            // closing a broken connection: nothing more to learn
        }
    }
}
