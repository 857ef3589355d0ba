package dev.steadyrun.collectives;

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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.PeerCheck;

/**
 * Forms the ring of one generation. Rank 0 listens on the rendezvous address and checks every rank's hello (same run,
 * same generation, right world size, distinct ranks); a rank that fails a check is refused with a reason and an exit
 * code and the others keep waiting. A hello that passes must then prove, and rank 0 prove back, that both hold the
 * generation's ring secret ({@link RingAuth}); one that fails is dropped and the others keep waiting. When all ranks
 * are in, rank 0 sends everyone the ring addresses and a fresh ring nonce, and each rank connects to its successor
 * with a ring hello proven over that nonce and accepts its predecessor. Every wait is bounded by a
 * {@link DistConfig} timeout.
 *
 * <p>Over 400 lines because both sides of the handshake (rank 0's checks and a joining rank's) are one protocol and
 * read best next to each other; the proofs themselves are in {@link RingAuth}.
 */
public final class Rendezvous {
    private static final Logger log = LoggerFactory.getLogger(Rendezvous.class);
    private static final long RETRY_MILLIS = 50;
    /**
     * A rank sends its hello as soon as it connects and its proof as soon as it is challenged; a connection that has
     * not finished both within this is cut, so that a silent or trickling one cannot hold the listener, which serves
     * one connection at a time, until the handshake deadline.
     */
    static final long PEER_HANDSHAKE_MILLIS = 10_000;
    private static final ScheduledExecutorService CUTTER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rendezvous-cutter");
        t.setDaemon(true);
        return t;
    });

    private Rendezvous() {
    }

    public static Collectives join(DistConfig config) {
        if (config.worldSize() == 1) {
            return new Collectives(config, null, null, null, null);
        }
        ServerSocket rendezvous = null;
        ServerSocket ring = null;
        Socket next = null;
        try {
            List<InetSocketAddress> ringAddresses;
            byte[] ringNonce;
            if (config.rank() == 0) {
                InetAddress host = InetAddress.getByName(config.rendezvousHost());
                rendezvous = bind(new InetSocketAddress(host, config.rendezvousPort()), "rendezvous");
                ring = bind(new InetSocketAddress(host, 0), "ring");
                ringNonce = RingAuth.nonce();
                ringAddresses = gather(config, rendezvous, ring, ringNonce);
            } else {
                ringAddresses = new ArrayList<>();
                ringNonce = new byte[RingAuth.NONCE_BYTES];
                ring = hello(config, ringAddresses, ringNonce);
            }
            InetSocketAddress successor = ringAddresses.get((config.rank() + 1) % config.worldSize());
            next = connect(successor, config, "successor rank " + (config.rank() + 1) % config.worldSize());
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(next.getOutputStream()));
            Wire.Hello ringHello = new Wire.Hello(config.runId(), config.generation(), config.rank(),
                    config.worldSize(), "", 0, RingAuth.nonce());
            ringHello.write(out, Wire.RING_HELLO);
            Wire.writeProof(out, RingAuth.proof(config.ringSecret(), RingAuth.JOINER, Wire.RING_HELLO, ringHello,
                    ringNonce));
            Socket prev = acceptPredecessor(config, ring, ringNonce);
            return new Collectives(config, next, prev,
                    ringAddresses.get(PeerCheck.predecessor(config.rank(), config.worldSize())), successor);
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

    /**
     * Rank 0: collect every other rank's authenticated hello, refusing misfits and dropping impostors, then answer
     * all with the ring addresses and the ring nonce.
     */
    private static List<InetSocketAddress> gather(DistConfig config, ServerSocket rendezvous, ServerSocket ring,
                                                  byte[] ringNonce) throws IOException {
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
                ScheduledFuture<?> cut = cutLater(socket, deadline);
                Wire.Hello hello;
                DataInputStream in;
                DataOutputStream out;
                try {
                    socket.setSoTimeout((int) Math.max(1, millisUntil(deadline)));
                    in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
                    hello = Wire.Hello.read(in, Wire.HELLO);
                    out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                } catch (IOException e) {
                    log.warn("{}: ignored a connection from {}: {}", who(config), socket.getRemoteSocketAddress(),
                            e.toString());
                    closeQuietly(socket);
                    continue;
                }
                String problem = check(config, hello, peers);
                boolean newer = hello.generation() > config.generation() && hello.runId().equals(config.runId());
                if (problem != null && !newer) {
                    // telling a misfit why harms nobody here, authenticated or not; the right rank is still awaited
                    refuse(config, socket, out, hello, problem);
                    continue;
                }
                boolean authentic;
                try {
                    authentic = authenticate(config, hello, in, out);
                } catch (IOException e) {
                    log.warn("{}: dropped a {} from {} before it proved the ring secret: {}", who(config), hello,
                            socket.getRemoteSocketAddress(), e.toString());
                    closeQuietly(socket);
                    continue;
                }
                if (!authentic) {
                    // anyone who can reach this port can claim any rank: only the proof counts, and a failed one
                    // neither takes a seat nor stops the ring
                    refuse(config, socket, out, hello, "failed authentication: not this generation's ring secret");
                    continue;
                }
                if (!cut.cancel(false)) {
                    log.warn("{}: dropped a {} from {}: it took more than {} ms", who(config), hello,
                            socket.getRemoteSocketAddress(), PEER_HANDSHAKE_MILLIS);
                    continue;
                }
                if (problem != null) {
                    // an authenticated rank of a newer generation: this rank 0 is stale and must not hold the ring
                    refuse(config, socket, out, hello, problem);
                    throw new CollectiveException(ExitCodes.STALE_GENERATION, who(config)
                            + ": a rank of newer generation " + hello.generation() + " arrived; this rank is stale",
                            null);
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
                out.write(ringNonce);
                out.flush();
            }
            return List.of(addresses);
        } finally {
            for (Socket s : peers) {
                closeQuietly(s);
            }
        }
    }

    /** Closes {@code socket} after {@link #PEER_HANDSHAKE_MILLIS} (or at the deadline) unless cancelled first. */
    private static ScheduledFuture<?> cutLater(Socket socket, long deadlineNanos) {
        return CUTTER.schedule(() -> closeQuietly(socket),
                Math.max(1, Math.min(PEER_HANDSHAKE_MILLIS, millisUntil(deadlineNanos))), TimeUnit.MILLISECONDS);
    }

    /** Rank 0's challenge and proof, then the joiner's proof; true when the joiner's proof is right. */
    private static boolean authenticate(DistConfig config, Wire.Hello hello, DataInputStream in, DataOutputStream out)
            throws IOException {
        byte[] nonce = RingAuth.nonce();
        Wire.writeChallenge(out, nonce,
                RingAuth.proof(config.ringSecret(), RingAuth.ACCEPTOR, Wire.HELLO, hello, nonce));
        byte[] proof = Wire.readProof(in);
        return RingAuth.matches(RingAuth.proof(config.ringSecret(), RingAuth.JOINER, Wire.HELLO, hello, nonce), proof);
    }

    /** An older rank is fenced off; a newer one is not at fault (rank 0 is); anything else is misconfigured. */
    private static void refuse(DistConfig config, Socket socket, DataOutputStream out, Wire.Hello hello,
                               String problem) {
        int code = hello.generation() < config.generation() ? ExitCodes.STALE_GENERATION
                : hello.generation() > config.generation() ? ExitCodes.PEER_LOST : ExitCodes.BAD_CONFIG;
        log.warn("{}: refused a {} from {}: {}", who(config), hello, socket.getRemoteSocketAddress(), problem);
        try {
            Wire.writeRefuse(out, code, problem);
        } catch (IOException ignored) {
            // the refused peer is gone already; nothing to tell it
        }
        closeQuietly(socket);
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

    /**
     * Ranks > 0: say hello to rank 0, check its proof, prove this rank, and wait for the ring addresses and nonce
     * (or a refusal). Returns the ring listener.
     */
    private static ServerSocket hello(DistConfig config, List<InetSocketAddress> ringAddresses, byte[] ringNonce)
            throws IOException {
        InetSocketAddress rendezvous = new InetSocketAddress(config.rendezvousHost(), config.rendezvousPort());
        try (Socket socket = connect(rendezvous, config, "rank 0's rendezvous " + config.rendezvous())) {
            // listen where rank 0 reached us from: the interface that routes to the rest of the job
            ServerSocket ring = bind(new InetSocketAddress(socket.getLocalAddress(), 0), "ring");
            try {
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                Wire.Hello hello = new Wire.Hello(config.runId(), config.generation(), config.rank(),
                        config.worldSize(), socket.getLocalAddress().getHostAddress(), ring.getLocalPort(),
                        RingAuth.nonce());
                hello.write(out, Wire.HELLO);
                socket.setSoTimeout((int) Math.min(config.handshakeTimeout().toMillis(), Integer.MAX_VALUE));
                DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
                byte type = Wire.readStart(in);
                boolean proven = type == Wire.CHALLENGE;
                if (proven) {
                    byte[] nonce = Wire.readBytes(in, RingAuth.NONCE_BYTES);
                    byte[] proof = Wire.readBytes(in, RingAuth.MAC_BYTES);
                    if (!RingAuth.matches(RingAuth.proof(config.ringSecret(), RingAuth.ACCEPTOR, Wire.HELLO, hello,
                            nonce), proof)) {
                        throw new PeerLostException(who(config) + ": the peer at rendezvous " + config.rendezvous()
                                + " did not prove this generation's ring secret (a rank 0 of another generation,"
                                + " or no rank at all)", null);
                    }
                    Wire.writeProof(out, RingAuth.proof(config.ringSecret(), RingAuth.JOINER, Wire.HELLO, hello,
                            nonce));
                    type = Wire.readStart(in);
                }
                if (type == Wire.REFUSE) {
                    int code = in.readInt();
                    throw new CollectiveException(code, who(config) + ": refused by rank 0 at " + config.rendezvous()
                            + ": " + in.readUTF(), null);
                }
                if (type != Wire.WELCOME || !proven) {
                    throw new IOException("unexpected answer type " + type + " from rank 0");
                }
                int n = in.readInt();
                if (n != config.worldSize()) {
                    throw new IOException("rank 0 announced world size " + n);
                }
                for (int r = 0; r < n; r++) {
                    ringAddresses.add(new InetSocketAddress(in.readUTF(), in.readInt()));
                }
                in.readFully(ringNonce);
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

    /** The first connection that claims to be the predecessor and proves it over the ring nonce. */
    private static Socket acceptPredecessor(DistConfig config, ServerSocket ring, byte[] ringNonce)
            throws IOException {
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
            ScheduledFuture<?> cut = cutLater(socket, deadline);
            try {
                socket.setSoTimeout((int) Math.max(1, millisUntil(deadline)));
                // unbuffered: the data frames that follow are read from the channel
                DataInputStream in = new DataInputStream(socket.getInputStream());
                Wire.Hello hello = Wire.Hello.read(in, Wire.RING_HELLO);
                if (hello.runId().equals(config.runId()) && hello.generation() == config.generation()
                        && hello.rank() == expected && hello.worldSize() == config.worldSize()) {
                    byte[] proof = Wire.readProof(in);
                    if (RingAuth.matches(RingAuth.proof(config.ringSecret(), RingAuth.JOINER, Wire.RING_HELLO, hello,
                            ringNonce), proof) && cut.cancel(false)) {
                        return socket;
                    }
                    log.warn("{}: dropped a ring connection from {} ({}): it failed authentication", who(config),
                            socket.getRemoteSocketAddress(), hello);
                } else {
                    log.warn("{}: ring connection from {} refused: {}", who(config), socket.getRemoteSocketAddress(),
                            hello);
                }
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
