package dev.steadyrun.orchestrator.alert;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.springframework.stereotype.Component;

/**
 * The HTTP side of a delivery, defensive against receivers: redirects are never followed (a 3xx is a failed
 * attempt), the connect and the whole answer are bounded in time, and at most {@code max-response-size} of the
 * body is read before the connection is dropped.
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

    private final HttpClient http;
    private final Duration readTimeout;
    private final Duration deadline;
    private final int maxBody;

    WebhookClient(AlertProperties props) {
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(props.connectTimeout())
                .version(HttpClient.Version.HTTP_1_1)
                .build();
        this.readTimeout = props.readTimeout();
        // the request timeout stops at the response headers; this also bounds a body that trickles in
        this.deadline = props.connectTimeout().plus(props.readTimeout());
        this.maxBody = (int) Math.min(Integer.MAX_VALUE, props.maxResponseSize().toBytes());
    }

    Result post(URI url, Map<String, String> headers, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(url)
                .timeout(readTimeout)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(request::header);
        CompletableFuture<HttpResponse<byte[]>> future =
                http.sendAsync(request.build(), info -> new CappedBody(maxBody));
        try {
            HttpResponse<byte[]> response = future.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
            return new Result(response.statusCode(), null, response.body());
        } catch (TimeoutException e) {
            future.cancel(true);
            return new Result(null, "timed out after " + deadline.toMillis() + " ms", null);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String message = cause.getMessage() == null ? "" : ": " + cause.getMessage();
            return new Result(null, cause.getClass().getSimpleName() + message, null);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            return new Result(null, "interrupted", null);
        }
    }

    /** Collects at most {@code limit} bytes of the body, then cancels the rest of it. */
    private static final class CappedBody implements HttpResponse.BodySubscriber<byte[]> {

        private final int limit;
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private Flow.Subscription subscription;

        CappedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer item : items) {
                int take = Math.min(item.remaining(), limit - buffer.size());
                byte[] chunk = new byte[take];
                item.get(chunk);
                buffer.write(chunk, 0, take);
            }
            if (buffer.size() >= limit) {
                subscription.cancel();
                result.complete(buffer.toByteArray());
            } else {
                subscription.request(1);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(buffer.toByteArray());
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }
    }
}
