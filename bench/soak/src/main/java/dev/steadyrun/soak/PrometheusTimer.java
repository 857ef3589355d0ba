package dev.steadyrun.soak;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One Micrometer timer read from a Prometheus scrape: count, mean, max, and the p50 and p99 as the upper bound of the
 * first histogram bucket holding that share of the samples (so a percentile is never under-stated).
 *
 * @param labels the series' labels as they appear in the scrape (e.g. {@code outcome="placed"}); "" for any
 */
record PrometheusTimer(String name, String labels, long count, double meanSeconds, double maxSeconds,
                       double p50Seconds, double p99Seconds) {

    static PrometheusTimer read(String scrape, String name, String labels) {
        double count = 0, sum = 0, max = 0;
        TreeMap<Double, Double> buckets = new TreeMap<>();
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(name + "_") || !line.contains(labels)) {
                continue;
            }
            double value = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            String series = line.substring(name.length() + 1, line.indexOf('{') < 0 ? line.lastIndexOf(' ')
                    : line.indexOf('{'));
            switch (series) {
                case "seconds_count" -> count += value;
                case "seconds_sum" -> sum += value;
                case "seconds_max" -> max = Math.max(max, value);
                case "seconds_bucket" -> {
                    int le = line.indexOf("le=\"") + 4;
                    String bound = line.substring(le, line.indexOf('"', le));
                    buckets.merge(bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound), value,
                            Double::sum);
                }
                default -> { }
            }
        }
        return new PrometheusTimer(name, labels, (long) count, count == 0 ? Double.NaN : sum / count, max,
                quantile(buckets, count, 0.5, max), quantile(buckets, count, 0.99, max));
    }

    /** The first bucket bound whose cumulative count reaches q of all (the max where that is the +Inf bucket). */
    private static double quantile(Map<Double, Double> cumulative, double count, double q, double max) {
        for (Map.Entry<Double, Double> b : cumulative.entrySet()) {
            if (count > 0 && b.getValue() >= q * count) {
                return Math.min(b.getKey(), max);
            }
        }
        return Double.NaN;
    }

    String summary() {
        return String.format(Locale.ROOT, "%d, mean %.1f ms, p50 ≤ %.1f ms, p99 ≤ %.1f ms, max %.1f ms", count,
                1000 * meanSeconds, 1000 * p50Seconds, 1000 * p99Seconds, 1000 * maxSeconds);
    }
}
