import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Follows a run's log (follow=true, server-sent events) and measures, for each line the bench trainer printed as
 * "bench-line SEQ EPOCH_NANOS", how long after the print it reached this reader (same machine, same clock).
 * Args: URL TOKEN RUN_ID LINES.
 */
public class LogLatency {

    private static final Pattern LINE = Pattern.compile("\"text\":\"bench-line (\\d+) (\\d+)\"");

    public static void main(String[] args) throws Exception {
        String url = args[0] + "/api/v1/runs/" + args[2] + "/logs?follow=true";
        int wanted = Integer.parseInt(args[3]);
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + args[1])
                .header("Accept", "text/event-stream").build();
        HttpResponse<java.util.stream.Stream<String>> response = HttpClient.newHttpClient().send(request,
                HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + response.statusCode());
        }
        List<Double> millis = new ArrayList<>();
        Iterator<String> it = response.body().iterator();
        while (millis.size() < wanted && it.hasNext()) {
            String line = it.next();
            if (!line.startsWith("data:")) {
                continue;
            }
            Instant now = Instant.now();
            Matcher m = LINE.matcher(line);
            if (m.find()) {
                long printed = Long.parseLong(m.group(2));
                long received = now.getEpochSecond() * 1_000_000_000L + now.getNano();
                millis.add((received - printed) / 1e6);
            }
        }
        // the first lines meet cold JVMs (class loading, JIT): the later half is the steady state
        print("all", new ArrayList<>(millis));
        print("first half", new ArrayList<>(millis.subList(0, millis.size() / 2)));
        print("second half", new ArrayList<>(millis.subList(millis.size() / 2, millis.size())));
        System.exit(0);
    }

    private static void print(String what, List<Double> millis) {
        Collections.sort(millis);
        System.out.printf(Locale.ROOT, "%-11s lines %d  print->reader latency ms: p50 %.0f  p95 %.0f  p99 %.0f"
                + "  max %.0f  (target: under 2000)%n", what, millis.size(), pct(millis, 50), pct(millis, 95),
                pct(millis, 99), millis.get(millis.size() - 1));
    }

    private static double pct(List<Double> sorted, int p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }
}
