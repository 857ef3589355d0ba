package dev.steadyrun.orchestrator.alert;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

import org.springframework.stereotype.Component;

/**
 * The HTTP side of a delivery, defensive against receivers: it connects to the address {@link DestinationPolicy}
 * checked (never resolving the host again, so DNS cannot answer differently between the check and the connection),
 * while the {@code Host} header, TLS server name (SNI) and certificate check use the URL's host. Redirects are never
 * followed (a 3xx is a failed attempt), the connect and the whole answer are bounded in time, and at most
 * {@code max-response-size} of the answer after its headers is read before the connection is dropped. HTTP/1.1 with
 * {@code Connection: close}: one request per connection, so a small client of its own is enough.
 */
@Component
class WebhookClient {

    /** What came back: a status, or the error that stopped the attempt (then {@code status} is null). */
    record Result(Integer status, String error, byte[] bodyPrefix) {
        boolean delivered() {
            return isSuccess(status);
        }
    }

    /** 2xx: the receiver has the event. */
    static boolean isSuccess(Integer status) {
        return status != null && status >= 200 && status < 300;
    }

    private static final int MAX_HEAD = 16 * 1024;

    private final Duration connectTimeout;
    private final Duration deadline;
    private final int maxBody;

    WebhookClient(AlertProperties props) {
        this.connectTimeout = props.connectTimeout();
        this.deadline = props.connectTimeout().plus(props.readTimeout());
        this.maxBody = (int) Math.min(Integer.MAX_VALUE, props.maxResponseSize().toBytes());
    }

    /** POSTs {@code body} to {@code url}, connecting to {@code address} (the one the destination check passed). */
    Result post(URI url, InetAddress address, Map<String, String> headers, String body) {
        boolean https = "https".equalsIgnoreCase(url.getScheme());
        int port = url.getPort() >= 0 ? url.getPort() : https ? 443 : 80;
        long end = System.nanoTime() + deadline.toNanos();
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(address, port), (int) connectTimeout.toMillis());
            Socket socket = https ? tls(plain, url.getHost(), port) : plain;
            try {
                socket.setSoTimeout(remainingMillis(end));
                write(socket.getOutputStream(), url, port, https, headers, body);
                return read(socket, end);
            } finally {
                socket.close();
            }
        } catch (SocketTimeoutException e) {
            return new Result(null, "timed out after " + deadline.toMillis() + " ms", null);
        } catch (IOException e) {
            return new Result(null, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                    null);
        }
    }

    /** TLS over the connected socket: SNI and the certificate check are for the URL's host, not the address. */
    private static Socket tls(Socket plain, String host, int port) throws IOException {
        SSLSocket ssl = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault())
                .createSocket(plain, host, port, true);
        SSLParameters params = ssl.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        ssl.setSSLParameters(params);
        ssl.startHandshake();
        return ssl;
    }

    private static void write(OutputStream out, URI url, int port, boolean https, Map<String, String> headers,
            String body) throws IOException {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        String target = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
        boolean defaultPort = port == (https ? 443 : 80);
        StringBuilder head = new StringBuilder("POST ").append(target).append(" HTTP/1.1\r\n")
                .append("Host: ").append(url.getHost()).append(defaultPort ? "" : ":" + port).append("\r\n")
                .append("Content-Length: ").append(content.length).append("\r\n")
                .append("Connection: close\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.UTF_8));
        out.write(content);
        out.flush();
    }

    /** Reads the status and at most {@code maxBody} more bytes; every read waits only until the deadline. */
    private Result read(Socket socket, long end) throws IOException {
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0; // of the blank line "\r\n\r\n" ending the headers
        while (matched < 4) {
            socket.setSoTimeout(remainingMillis(end));
            int b = in.read();
            if (b < 0 || head.size() >= MAX_HEAD) {
                return new Result(null, b < 0 ? "connection closed before an HTTP answer" : "no HTTP answer", null);
            }
            head.write(b);
            matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : b == '\r' ? 1 : 0;
        }
        String statusLine = head.toString(StandardCharsets.ISO_8859_1).lines().findFirst().orElse("");
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || !parts[1].matches("[1-5][0-9][0-9]")) {
            return new Result(null, "not an HTTP answer", null);
        }
        int status = Integer.parseInt(parts[1]);
        ByteArrayOutputStream prefix = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            while (prefix.size() < maxBody) {
                socket.setSoTimeout(remainingMillis(end));
                int n = in.read(buf, 0, Math.min(buf.length, maxBody - prefix.size()));
                if (n < 0) {
                    break;
                }
                prefix.write(buf, 0, n);
            }
        } catch (IOException e) {
            // the status is what counts; the rest of the answer is only drained politely
        }
        return new Result(status, null, prefix.toByteArray());
    }

    private static int remainingMillis(long end) throws SocketTimeoutException {
        long ms = (end - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new SocketTimeoutException();
        }
        return (int) ms;
    }
}
