package dev.steadyrun.collectives;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import dev.steadyrun.protocol.PeerCheck;

/**
 * Ring collectives of one generation over TCP: each rank sends to its successor and receives from its predecessor.
 * Data moves in buckets of {@link DistConfig#bucketBytes()}; a writer thread sends while the caller's thread receives
 * and reduces, so the ring streams. A vector of n elements is cut into worldSize chunks, chunk c = [c·n/N, (c+1)·n/N).
 * Floats in a direct buffer (the trainer hands over ND4J's memory) go to the socket straight from that memory and
 * copies arrive straight into it; only received partial sums pass through a staging buffer, to be added.
 *
 * <p>Determinism: chunk c is summed in the fixed ring order x[c+1] + x[c+2] + … + x[c] on rank c, and the all-gather
 * copies it to the others, so every rank holds the same bits.
 *
 * <p>Failure: a peer that closes, resets, or sends nothing for {@link DistConfig#operationTimeout()} makes the call
 * throw {@link PeerLostException}; this rank then closes both its connections, so its neighbours fail at once too and
 * the failure travels round the ring. After a failure every call throws: the generation must be restarted. A
 * timeout first checks whether the two neighbours still answer a connect ({@link PeerCheck}): a rank cut off from its
 * peers reaches neither, its neighbours reach everyone but it.
 *
 * <p>Not thread-safe: one caller thread, and every rank must call the same collectives in the same order.
 */
public final class Collectives implements AutoCloseable {
    /** How long a neighbour has to answer the peer check's connect (a refusal on a live host comes at once). */
    private static final int PEER_CHECK_MILLIS = 3000;

    private final DistConfig config;
    private final int rank;
    private final int size;
    private final long timeoutMillis;
    private final SocketChannel next;
    private final SocketChannel prev;
    private final InetSocketAddress predecessorAddress;
    private final InetSocketAddress successorAddress;
    private final Selector writable;
    private final Selector readable;
    private final ExecutorService writer;
    private final ByteBuffer sendHeader;
    private final ByteBuffer sendPayload;
    private final ByteBuffer[] sendFrame = new ByteBuffer[2];
    private final ByteBuffer[] recvFrame = new ByteBuffer[1];
    private final ByteBuffer recvHeader;
    private final ByteBuffer recvPayload;
    private final Elements.Scratch scratch;
    private long sendSeq;
    private long recvSeq;
    private CompletableFuture<Void> lastSend = CompletableFuture.completedFuture(null);
    private volatile CollectiveException failure;
    private volatile String operation = "idle";

    /** {@code predecessorAddress}, {@code successorAddress}: the neighbours' ring listeners, for the peer check. */
    Collectives(DistConfig config, Socket next, Socket prev, InetSocketAddress predecessorAddress,
                InetSocketAddress successorAddress) {
        this.config = config;
        this.predecessorAddress = predecessorAddress;
        this.successorAddress = successorAddress;
        this.rank = config.rank();
        this.size = config.worldSize();
        this.timeoutMillis = config.operationTimeout().toMillis();
        int bucket = config.bucketBytes();
        if (size == 1) {
            this.next = this.prev = null;
            writable = readable = null;
            writer = null;
            sendHeader = sendPayload = recvHeader = recvPayload = null;
            scratch = null;
            return;
        }
        this.next = next.getChannel();
        this.prev = prev.getChannel();
        Selector w = null;
        Selector r = null;
        try {
            // non-blocking with a selector per direction: blocking channels ignore socket timeouts
            w = Selector.open();
            r = Selector.open();
            this.next.configureBlocking(false).register(w, SelectionKey.OP_WRITE);
            this.prev.configureBlocking(false).register(r, SelectionKey.OP_READ);
        } catch (IOException e) {
            Rendezvous.closeQuietly(next);
            Rendezvous.closeQuietly(prev);
            Rendezvous.closeQuietly(w);
            Rendezvous.closeQuietly(r);
            throw new PeerLostException(Rendezvous.who(config) + ": ring connection broke: " + e, e);
        }
        writable = w;
        readable = r;
        // direct buffers: the channel reads and writes them without a copy through a temporary buffer
        sendHeader = ByteBuffer.allocateDirect(Wire.HEADER_BYTES);
        sendPayload = ByteBuffer.allocateDirect(bucket).order(ByteOrder.LITTLE_ENDIAN);
        recvHeader = ByteBuffer.allocateDirect(Wire.HEADER_BYTES);
        recvPayload = ByteBuffer.allocateDirect(bucket).order(ByteOrder.LITTLE_ENDIAN);
        scratch = new Elements.Scratch();
        writer = Executors.newSingleThreadExecutor(t -> {
            Thread thread = new Thread(t, "collectives-writer-rank-" + rank);
            thread.setDaemon(true);
            return thread;
        });
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return size;
    }

    public long generation() {
        return config.generation();
    }

    /** The chunk of a length-n vector that rank r owns after {@link #reduceScatter}: [from, to). */
    public record Chunk(int from, int to) {
        public int length() {
            return to - from;
        }
    }

    public Chunk chunk(int length, int r) {
        return new Chunk((int) ((long) r * length / size), (int) ((long) (r + 1) * length / size));
    }

    public void allReduceSum(float[] data) {
        run("allReduceSum", new Elements.Floats(data, scratch), true, true);
    }

    public void allReduceSum(double[] data) {
        run("allReduceSum", new Elements.Doubles(data, scratch), true, true);
    }

    /**
     * Sums over all ranks in place. {@code floats}: a direct buffer of native-order floats, positions 0 to capacity - 1
     * (position and limit are ignored), such as ND4J's {@code DataBuffer.asNio()}; the other collectives that take a
     * ByteBuffer read it the same way.
     */
    public void allReduceSum(ByteBuffer floats) {
        run("allReduceSum", new Elements.DirectFloats(floats, scratch), true, true);
    }

    /** Afterwards chunk {@code chunk(data.length, rank())} of data holds the sum over all ranks; the rest is scratch. */
    public void reduceScatter(float[] data) {
        run("reduceScatter", new Elements.Floats(data, scratch), true, false);
    }

    public void reduceScatter(ByteBuffer floats) {
        run("reduceScatter", new Elements.DirectFloats(floats, scratch), true, false);
    }

    public void reduceScatter(double[] data) {
        run("reduceScatter", new Elements.Doubles(data, scratch), true, false);
    }

    /** Before, each rank r holds its chunk r of data; afterwards every rank holds all chunks. */
    public void allGather(float[] data) {
        run("allGather", new Elements.Floats(data, scratch), false, true);
    }

    public void allGather(ByteBuffer floats) {
        run("allGather", new Elements.DirectFloats(floats, scratch), false, true);
    }

    public void allGather(double[] data) {
        run("allGather", new Elements.Doubles(data, scratch), false, true);
    }

    /** Copies root's data to every rank (the data lengths must match). */
    public void broadcast(float[] data, int root) {
        broadcast(new Elements.Floats(data, scratch), root);
    }

    public void broadcast(ByteBuffer floats, int root) {
        broadcast(new Elements.DirectFloats(floats, scratch), root);
    }

    public void broadcast(double[] data, int root) {
        broadcast(new Elements.Doubles(data, scratch), root);
    }

    /**
     * A ring shift: sends {@code out} to the successor and fills {@code in} from the predecessor, both direct float
     * buffers read as {@link #allReduceSum(ByteBuffer)} reads them; their sizes may differ from rank to rank (each
     * rank must size {@code in} as its predecessor sizes {@code out}). How a rank hands a replica of its snapshot to
     * its neighbour: the bytes travel as float bit patterns and are copied, never added, so any bytes survive.
     */
    public void shift(ByteBuffer out, ByteBuffer in) {
        if (size == 1) {
            return;
        }
        start("shift");
        try {
            Elements sent = new Elements.DirectFloats(out, scratch);
            Elements received = new Elements.DirectFloats(in, scratch);
            send(sent, 0, sent.length());
            receive(received, 0, received.length(), false, false);
            drain();
        } catch (IOException e) {
            throw fail(e);
        } finally {
            operation = "idle";
        }
    }

    /** Returns when every rank has called it: an all-reduce in which every rank owns one element. */
    public void barrier() {
        run("barrier", new Elements.Floats(new float[size], scratch), true, true);
    }

    private void run(String name, Elements data, boolean reduce, boolean gather) {
        if (size == 1) {
            return;
        }
        start(name);
        try {
            int n = data.length();
            if (reduce) {
                // step s: send chunk r-s-1, receive chunk r-s-2 and add; the chunk received is the next one sent.
                // The last step sums this rank's own chunk: before a gather each bucket goes out again as soon as it
                // is final (still in cache, and the gather starts without waiting for the whole chunk)
                sendChunk(data, n, rank - 1);
                for (int s = 0; s < size - 1; s++) {
                    receiveChunk(data, n, rank - s - 2, true, s < size - 2 || gather);
                }
                if (!gather) {
                    drain();
                }
            }
            if (gather) {
                // step s: send chunk r-s, receive chunk r-s-1 and copy it (no re-adding: identical bits everywhere).
                // A copy may land where a frame of this rank is still queued: not before that frame left, because what
                // arrives there was summed from it
                if (!reduce) {
                    sendChunk(data, n, rank);
                }
                for (int s = 0; s < size - 1; s++) {
                    receiveChunk(data, n, rank - s - 1, false, s < size - 2);
                }
                drain();
            }
        } catch (IOException e) {
            throw fail(e);
        } finally {
            operation = "idle";
        }
    }

    private void broadcast(Elements data, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast: root must be in [0, " + size + "), was " + root);
        }
        if (size == 1) {
            return;
        }
        start("broadcast");
        try {
            int n = data.length();
            if (rank == root) {
                send(data, 0, n);
            } else {
                receive(data, 0, n, false, (rank + 1) % size != root);
            }
            drain();
        } catch (IOException e) {
            throw fail(e);
        } finally {
            operation = "idle";
        }
    }

    private void start(String name) {
        if (failure != null) {
            throw new PeerLostException(Rendezvous.who(config) + ": " + name + " called after an earlier failure: "
                    + failure.getMessage(), failure);
        }
        operation = name;
    }

    private void sendChunk(Elements data, int n, int chunkIndex) {
        Chunk c = chunk(n, Math.floorMod(chunkIndex, size));
        send(data, c.from(), c.to());
    }

    private void receiveChunk(Elements data, int n, int chunkIndex, boolean add, boolean forward) throws IOException {
        Chunk c = chunk(n, Math.floorMod(chunkIndex, size));
        receive(data, c.from(), c.to(), add, forward);
    }

    /** Queues [from, to) in buckets; the writer reads the data when it sends, so the range must stay untouched. */
    private void send(Elements data, int from, int to) {
        int per = config.bucketBytes() / data.bytes();
        for (int at = from; at < to; at += per) {
            sendBucket(data, at, Math.min(per, to - at));
        }
    }

    private void sendBucket(Elements data, int at, int count) {
        long seq = sendSeq++;
        lastSend = lastSend.thenRunAsync(() -> {
            int bytes = count * data.bytes();
            Wire.writeHeader(sendHeader, config.generation(), seq, bytes);
            sendFrame[0] = sendHeader.flip();
            sendFrame[1] = data.outgoing(sendPayload, at, count);
            try {
                transfer(sendFrame, true);
            } catch (IOException e) {
                // fail() also wakes the caller's thread, blocked on a read, so both fail now
                throw fail(e);
            }
        }, writer);
    }

    private void receive(Elements data, int from, int to, boolean add, boolean forward) throws IOException {
        int per = config.bucketBytes() / data.bytes();
        for (int at = from; at < to; at += per) {
            int count = Math.min(per, to - at);
            int bytes = count * data.bytes();
            recvFrame[0] = recvHeader.clear();
            transfer(recvFrame, false);
            Wire.HeaderProblem problem = Wire.checkHeader(recvHeader, config.generation(), recvSeq++, bytes);
            if (problem != null) {
                throw fail(new CollectiveException(problem.exitCode(),
                        Rendezvous.who(config) + ": " + operation + ": " + problem.message(), null));
            }
            recvFrame[0] = data.incoming(recvPayload, at, count, add);
            transfer(recvFrame, false);
            data.absorb(recvPayload.flip(), at, count, add);
            if (forward) {
                sendBucket(data, at, count);
            }
        }
    }

    /**
     * Writes the buffer to the successor or fills it from the predecessor; fails when the peer makes no progress for
     * the operation timeout (a dead host or a partition sends no reset), or when it closed the connection.
     */
    private void transfer(ByteBuffer[] buffers, boolean write) throws IOException {
        Selector selector = write ? writable : readable;
        ByteBuffer last = buffers[buffers.length - 1];
        long lastProgress = System.nanoTime();
        while (last.hasRemaining()) {
            if (failure != null) {
                throw new IOException("aborted after an earlier failure");
            }
            long n = write ? next.write(buffers) : prev.read(buffers);
            if (n < 0) {
                throw new EOFException();
            }
            long now = System.nanoTime();
            if (n > 0) {
                lastProgress = now;
                continue;
            }
            long left = timeoutMillis - (now - lastProgress) / 1_000_000;
            if (left <= 0) {
                throw new SocketTimeoutException(write ? "successor rank " + (rank + 1) % size
                        + " accepted no data for " + config.operationTimeout()
                        : "nothing from predecessor rank " + Math.floorMod(rank - 1, size) + " for "
                        + config.operationTimeout());
            }
            try {
                selector.select(left);
                selector.selectedKeys().clear();
            } catch (ClosedSelectorException e) {
                throw new IOException("closed after a failure", e);
            }
        }
    }

    /** Waits until the writer has handed every queued frame to the kernel. */
    private void drain() throws IOException {
        try {
            // no time limit here: the writer fails by itself when the successor stops taking data
            lastSend.get();
        } catch (ExecutionException e) {
            throw fail(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail(e);
        }
    }

    /** Records the first failure, closes both connections (so the neighbours fail too) and returns what to throw. */
    private synchronized CollectiveException fail(Throwable cause) {
        if (failure == null) {
            // checked before the sockets close: the exits our close causes (no check, a closed connection) would
            // otherwise reach the orchestrator well before this rank's, which names who is cut off
            failure = cause instanceof CollectiveException ce ? ce
                    : new PeerLostException(Rendezvous.who(config) + ": " + operation + ": " + describe(cause)
                            + "; the generation must be restarted", cause,
                            cause instanceof SocketTimeoutException ? checkNeighbours() : null);
            closeSockets();
        }
        return failure;
    }

    private String describe(Throwable cause) {
        int p = Math.floorMod(rank - 1, size);
        int s = (rank + 1) % size;
        if (cause instanceof SocketTimeoutException) {
            return "peer lost: " + cause.getMessage();
        }
        if (cause instanceof EOFException) {
            return "peer lost: predecessor rank " + p + " closed the connection";
        }
        return "peer lost: connection to rank " + p + " or " + s + " broke: " + cause;
    }

    /**
     * Connects to both neighbours' ring listeners: a connection or a refusal is an answer (the listener is closed
     * once the ring formed), a timeout or an unreachable network is none.
     */
    private PeerCheck checkNeighbours() {
        int p = PeerCheck.predecessor(rank, size);
        int s = PeerCheck.successor(rank, size);
        // both at once: the agent may stop this trainer soon after a neighbour's exit reached the orchestrator
        CompletableFuture<Boolean> successorAnswers = new CompletableFuture<>();
        Thread probe = new Thread(() -> successorAnswers.complete(p == s || answers(successorAddress)),
                "peer-check-rank-" + s);
        probe.setDaemon(true);
        probe.start();
        boolean predecessorAnswers = answers(predecessorAddress);
        List<Integer> unreachable = new ArrayList<>();
        List<Integer> reachable = new ArrayList<>();
        (predecessorAnswers ? reachable : unreachable).add(p);
        if (p != s) {
            (successorAnswers.join() ? reachable : unreachable).add(s);
        }
        return new PeerCheck(rank, size, unreachable, reachable);
    }

    private static boolean answers(InetSocketAddress address) {
        try (Socket probe = new Socket()) {
            probe.connect(address, PEER_CHECK_MILLIS);
            return true;
        } catch (ConnectException e) {
            // refused: the host answered; "timed out" here is the kernel's own SYN timeout
            return e.getMessage() != null && e.getMessage().contains("refused");
        } catch (IOException e) {
            return false; // our timeout, no route to the host, network unreachable
        }
    }

    /** Closing the selectors wakes a thread blocked in them and lets the channels really close (send the FIN). */
    private void closeSockets() {
        Rendezvous.closeQuietly(next);
        Rendezvous.closeQuietly(prev);
        Rendezvous.closeQuietly(writable);
        Rendezvous.closeQuietly(readable);
    }

    @Override
    public void close() {
        closeSockets();
        if (writer != null) {
            writer.shutdownNow();
        }
    }
}
