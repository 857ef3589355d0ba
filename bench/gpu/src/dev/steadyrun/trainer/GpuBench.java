package dev.steadyrun.trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.protocol.StepMetrics;

/**
 * The trainer on whatever backend this JVM has (the CUDA one when bench/gpu.sh built with -Pcuda): GEMM TFLOP/s in
 * FP32 and FP16, then a model's achieved TFLOP/s (PaLM formula, {@link ModelConfig#trainingFlopsPerToken}) through
 * the real {@link Trainer} loop in the same JVM, and their ratio. OPT-175B reached 147 TFLOP/s per A100 (FP16 with
 * tensor cores, of 312 peak): the anchor printed beside the figures. Every GEMM is timed to its completion
 * ({@code commit()} waits for the device), not to its launch.
 */
public final class GpuBench {

    public static void main(String[] args) throws Exception {
        var out = System.out;
        System.setOut(System.err); // SameDiff prints diagnostics on stdout
        out.println("backend: " + Host.backend());
        int m = Integer.getInteger("gemm", 8192);
        double fp32 = gemmTflops(DataType.FLOAT, m);
        double fp16 = gemmTflops(DataType.HALF, m);
        out.printf(Locale.ROOT, "gemm %dx%dx%d: fp32 %.3f TFLOP/s, fp16 %.3f TFLOP/s (median of 10)%n", m, m, m, fp32,
                fp16);
        int layers = Integer.getInteger("layers", 4);
        int heads = Integer.getInteger("heads", 16);
        int dModel = Integer.getInteger("dModel", 2048);
        int seqLen = Integer.getInteger("seqLen", 1024);
        int micro = Integer.getInteger("microBatch", 4);
        int steps = Integer.getInteger("steps", 12);
        long batch = (long) micro * seqLen;
        Map<String, String> config = new LinkedHashMap<>(Map.of("model", "tiny", "layers", "" + layers,
                "heads", "" + heads, "dModel", "" + dModel, "seqLen", "" + seqLen, "microBatch", "" + micro,
                "batchTokens", "" + batch, "maxSteps", "" + steps, "checkpointInterval", "1000000"));
        config.put("precision", System.getProperty("precision", "fp32"));
        List<StepMetrics> m2 = new ArrayList<>();
        Trainer trainer = new Trainer(line -> {
            if (line instanceof StepMetrics s) {
                m2.add(s);
                System.err.println(MetricsOut.humanReadable(s));
            }
        });
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        trainer.run(config, new Trainer.Launch(dir, null, null, 0, 1, 0));
        ModelConfig cfg = new ModelConfig(layers, heads, dModel, seqLen, ModelSize.OPT_VOCAB);
        double stepMs = TrainerBench.median(m2.subList(2, m2.size()).stream().mapToDouble(StepMetrics::stepTimeMs)
                .toArray());
        double model = batch * cfg.trainingFlopsPerToken() / (stepMs / 1000) / 1e12;
        out.printf(Locale.ROOT, "model L=%d d=%d h=%d T=%d B=%d (%.0fM params, %s): step %.0f ms (median of %d), "
                        + "%.0f tokens/s, model %.3f TFLOP/s%n", layers, dModel, heads, seqLen, micro,
                cfg.parameterCount() / 1e6, config.get("precision"), stepMs, m2.size() - 2, batch / (stepMs / 1000),
                model);
        out.printf(Locale.ROOT, "ratio model / fp32 GEMM: %.2f; model / fp16 GEMM: %.2f; OPT-175B anchor: 147 TFLOP/s "
                + "per A100 (FP16, 0.47 of its 312 peak)%n", model / fp32, model / fp16);
    }

    private static double gemmTflops(DataType type, int n) {
        INDArray a = Nd4j.rand(DataType.FLOAT, n, n).castTo(type);
        INDArray b = Nd4j.rand(DataType.FLOAT, n, n).castTo(type);
        INDArray c = Nd4j.createUninitialized(type, n, n);
        for (int i = 0; i < 3; i++) {
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
        }
        Nd4j.getExecutioner().commit();
        double[] tflops = new double[10];
        for (int i = 0; i < tflops.length; i++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            Nd4j.getExecutioner().commit();
            tflops[i] = 2.0 * n * n * n / (System.nanoTime() - t0) / 1e3;
        }
        return TrainerBench.median(tflops);
    }
}
