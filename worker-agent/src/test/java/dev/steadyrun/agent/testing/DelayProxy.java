package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A slow network link, as a test tool (no {@code tc netem} here): a TCP proxy on 127.0.0.1 that forwards every
 * connection to a target and holds each chunk of bytes for {@link #delay()} before passing it on, in each direction
 * and in order. A request and its answer thus take two delays more, as over a link with that one-way latency; the
 * bandwidth is not limited (chunks in flight overlap). TLS passes through untouched. The delay may be changed while
 * connections are open: chunks read from then on are held for the new one (never reordered).
 */
public final class DelayProxy implements AutoCloseable {

    /** Bytes to pass on at {@code dueAt} ({@link System#nanoTime()}), or the end of the stream ({@code bytes} null). */
    private record Chunk(byte[] bytes, long dueAt) {
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private volatile Duration delay;
    private volatile boolean closed;

    public DelayProxy(InetSocketAddress target, Duration delay) throws IOException {
        this.target = target;
        this.delay = delay;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "delay-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    public Duration delay() {
        return delay;
    }

    public void setDelay(Duration delay) {
        this.delay = delay;
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            connections.incrementAndGet();
            Socket upstream = new Socket();
            try {
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                upstream.connect(target, 5000);
            } catch (IOException e) {
                closeQuietly(client);
                closeQuietly(upstream);
                continue;
            }
            sockets.add(client);
            sockets.add(upstream);
            AtomicInteger open = new AtomicInteger(2); // directions still passing bytes
            pipe(client, upstream, "up", open);
            pipe(upstream, client, "down", open);
        }
    }

    /** One direction: a reader that stamps each chunk with its due time, a writer that waits for it. */
    private void pipe(Socket from, Socket to, String direction, AtomicInteger open) {
        LinkedBlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            byte[] buffer = new byte[16 * 1024];
            try {
                InputStream in = from.getInputStream(); // not closed here: that would close the other direction too
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    queue.add(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime() + delay.toNanos()));
                }
            } catch (IOException e) {
                // the connection broke or was closed: pass the end on
            }
            queue.add(new Chunk(null, System.nanoTime() + delay.toNanos()));
        }, "delay-proxy-" + direction + "-read");
        Thread writer = new Thread(() -> {
            long last = 0;
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk c = queue.take();
                    // in order: a chunk never overtakes an earlier one whose delay was longer
                    long due = Math.max(c.dueAt(), last);
                    last = due;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                    if (c.bytes() == null) {
                        to.shutdownOutput();
                        if (open.decrementAndGet() == 0) {
                            closeBoth(from, to);
                        }
                        return;
                    }
                    out.write(c.bytes());
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                closeBoth(from, to);
            }
        }, "delay-proxy-" + direction + "-write");
        reader.setDaemon(true);
        writer.setDaemon(true);
        reader.start();
        writer.start();
    }

    private void closeBoth(Socket a, Socket b) {
        closeQuietly(a);
        closeQuietly(b);
        sockets.remove(a);
        sockets.remove(b);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        sockets.forEach(DelayProxy::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing anyway
        }
    }
}
