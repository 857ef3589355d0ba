package dev.steadyrun.trainer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.protocol.StepMetrics;

/**
 * Trainer-engine figures, each mode in its own JVM (see bench/trainer.sh):
 * <ul>
 *   <li>{@code flops}: ND4J FP32 GEMM throughput, then the 2-layer d=768 h=12 T=512 model's achieved model FLOP/s
 *       (PaLM formula, {@link ModelConfig#trainingFlopsPerToken}) in the same JVM, and their ratio;</li>
 *   <li>{@code tiny}: the tiny model (L=2 d=128 h=4 T=128 B=8, the probe's) for 100 steps: tokens/s and RSS at
 *       steps 10 and 100.</li>
 * </ul>
 * Both train through the real {@link Trainer} loop on the Europarl sample, so the figures include the data
 * reads, optimizer, clipping, metrics and the per-step GC.
 */
public final class TrainerBench {

    /** The results; System.out goes to stderr because SameDiff prints diagnostics there. */
    private static final PrintStream OUT = System.out;

    public static void main(String[] args) throws Exception {
        System.setOut(System.err);
        Path work = Path.of(args[1]);
        switch (args[0]) {
            case "flops" -> flops(work);
            case "tiny" -> tiny(work);
            default -> throw new IllegalArgumentException("mode: flops | tiny");
        }
    }

    private static void flops(Path work) throws Exception {
        double gemm = gemmGflops(2048, 768, 3072);
        double square = gemmGflops(1024, 1024, 1024);
        OUT.printf(Locale.ROOT, "gemm 2048x768x3072 fp32: %.1f GFLOP/s (median of 10)%n", gemm);
        OUT.printf(Locale.ROOT, "gemm 1024x1024x1024 fp32: %.1f GFLOP/s (median of 10)%n", square);
        int steps = Integer.getInteger("steps", 8);
        // GEMM again after every step (outside its timed part): on a shared machine the load drifts within a run,
        // so each step is also compared with the GEMM throughput of its own moment
        List<Double> gemmAfter = new ArrayList<>();
        List<StepMetrics> m = train(work.resolve("d768"), Map.of("layers", "2", "heads", "12", "dModel", "768",
                "seqLen", "512", "microBatch", "2", "batchTokens", "1024", "maxSteps", String.valueOf(steps)),
                s -> gemmAfter.add(gemmGflops(2048, 768, 3072, 5)));
        ModelConfig cfg = new ModelConfig(2, 12, 768, 512, ModelSize.OPT_VOCAB);
        double stepMs = median(m.subList(2, m.size()).stream().mapToDouble(StepMetrics::stepTimeMs).toArray());
        double modelFlops = 1024 * cfg.trainingFlopsPerToken() / (stepMs / 1000);
        OUT.printf(Locale.ROOT, "model L=2 d=768 h=12 T=512 B=2 (%.1fM params): step %.0f ms (median of %d), "
                        + "%.0f tokens/s, model %.1f GFLOP/s%n", cfg.parameterCount() / 1e6, stepMs, m.size() - 2,
                1024 / (stepMs / 1000), modelFlops / 1e9);
        OUT.printf(Locale.ROOT, "ratio model FLOP/s / GEMM FLOP/s (2048x768x3072): %.2f%n", modelFlops / 1e9 / gemm);
        double[] stepRatios = new double[m.size() - 2];
        for (int i = 2; i < m.size(); i++) {
            stepRatios[i - 2] = 1024 * cfg.trainingFlopsPerToken() / (m.get(i).stepTimeMs() / 1000) / 1e9 / gemmAfter.get(i);
        }
        OUT.printf(Locale.ROOT, "gemm after each step: %.1f GFLOP/s (median); per-step ratio vs that GEMM: median %.2f, "
                        + "range %.2f-%.2f%n", median(gemmAfter.subList(2, gemmAfter.size()).stream()
                        .mapToDouble(Double::doubleValue).toArray()), median(stepRatios),
                Arrays.stream(stepRatios).min().orElse(0), Arrays.stream(stepRatios).max().orElse(0));
    }

    private static void tiny(Path work) throws Exception {
        List<StepMetrics> m = train(work.resolve("tiny"), Map.of("maxSteps", "100"), s -> { });
        double tokensPerSec = median(m.subList(5, m.size()).stream().mapToDouble(StepMetrics::tokensPerSec).toArray());
        double stepMs = median(m.subList(5, m.size()).stream().mapToDouble(StepMetrics::stepTimeMs).toArray());
        long rss10 = m.get(9).rssBytes();
        long rss100 = m.get(99).rssBytes();
        OUT.printf(Locale.ROOT, "tiny L=2 d=128 h=4 T=128 B=8: %.0f tokens/s, step %.0f ms (median, steps 6-100)%n",
                tokensPerSec, stepMs);
        OUT.printf(Locale.ROOT, "RSS step 10: %d MB, step 100: %d MB (%+.1f%%)%n", rss10 >> 20, rss100 >> 20,
                100.0 * (rss100 - rss10) / rss10);
        OUT.printf(Locale.ROOT, "loss step 1: %.3f, step 100: %.3f%n", m.get(0).loss(), m.get(99).loss());
    }

    private static List<StepMetrics> train(Path dir, Map<String, String> overrides, Consumer<StepMetrics> afterStep)
            throws Exception {
        Map<String, String> config = new LinkedHashMap<>(overrides);
        config.put("model", "tiny");
        config.put("checkpointInterval", "1000000");
        List<StepMetrics> steps = new ArrayList<>();
        Trainer trainer = new Trainer(line -> {
            if (line instanceof StepMetrics s) {
                steps.add(s);
                System.err.println(MetricsOut.humanReadable(s));
                afterStep.accept(s);
            }
        });
        Files.createDirectories(dir);
        trainer.run(config, new Trainer.Launch(dir, null, null, 0, 1, 0));
        return steps;
    }

    /** FP32 GEMM into a preallocated result, as the model's head uses it. */
    static double gemmGflops(int m, int k, int n) {
        return gemmGflops(m, k, n, 10);
    }

    static double gemmGflops(int m, int k, int n, int runs) {
        INDArray a = Nd4j.rand(DataType.FLOAT, m, k);
        INDArray b = Nd4j.rand(DataType.FLOAT, k, n);
        INDArray c = Nd4j.createUninitialized(DataType.FLOAT, m, n);
        for (int i = 0; i < 3; i++) {
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
        }
        double[] gflops = new double[runs];
        for (int i = 0; i < gflops.length; i++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            gflops[i] = 2.0 * m * k * n / (System.nanoTime() - t0);
        }
        return median(gflops);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
